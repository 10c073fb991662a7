"""Search: query language, MATCH compiler, ranking, filters, backends and rendering (§9).

Nothing under this package imports tree-sitter, starlette, uvicorn, mcp or watchfiles, so a
cold ``pairofcleats search`` stays fast (a subprocess test checks ``sys.modules``).
"""
