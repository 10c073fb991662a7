"""spiderweb: a WebSocket gateway for agents."""

__version__ = "0.1.0"
