"""Serving pairofcleats: the stdout guard, the HTTP API (Starlette) and the MCP server.

This package's ``__init__`` imports nothing heavy: ``api`` and ``mcp`` import starlette,
uvicorn and the MCP SDK, and only the ``service`` commands load them.
"""
