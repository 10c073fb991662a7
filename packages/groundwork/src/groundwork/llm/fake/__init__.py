"""The fake LLM HTTP server and its fault vocabulary (``groundwork.llm.faults``).

``python -m groundwork.llm.fake --port 0`` runs it standalone; the
``fake_llm`` pytest fixture comes from ``groundwork.llm.fake.pytest_plugin``.
"""

from groundwork.llm.fake.server import FakeLLMServer, FakeRequest, mask_headers
from groundwork.llm.faults import (
    Action,
    FaultRate,
    chunked,
    delay,
    fault_rate,
    hang,
    malformed,
    ok,
    parse_script,
    reset,
    stall_after,
    status,
    text,
)

__all__ = [
    "Action",
    "FakeLLMServer",
    "FakeRequest",
    "FaultRate",
    "chunked",
    "delay",
    "fault_rate",
    "hang",
    "malformed",
    "mask_headers",
    "ok",
    "parse_script",
    "reset",
    "stall_after",
    "status",
    "text",
]
