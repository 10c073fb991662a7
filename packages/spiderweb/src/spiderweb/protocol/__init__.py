"""Sans-I/O wire protocol (spec §4): text in, frame models out; frames in, text out.

``inbound`` validates client frames, ``outbound`` holds every server frame and
the encoder, ``errors`` the §4.2 codes. Nothing here touches a socket.
"""

from __future__ import annotations

from spiderweb.protocol.errors import ErrorCode, FrameError
from spiderweb.protocol.inbound import InboundFrame, Request, parse_frame
from spiderweb.protocol.outbound import OutFrame, encode

__all__ = [
    "ErrorCode",
    "FrameError",
    "InboundFrame",
    "OutFrame",
    "Request",
    "encode",
    "parse_frame",
]
