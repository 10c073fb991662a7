"""Sandboxed worker tools (§9): the ``Tool`` protocol and the workspace-rooted tool set."""
