"""Bodies, stream frames and errors in each API's own shape; pure, no sockets.

A stream is ``(prelude, pieces, coda)``: one frame per text piece in the
middle, so the server can stall or cut after exactly ``n`` pieces.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal, TypeAlias

from groundwork.llm.sse import encode_event

Api: TypeAlias = Literal["openai", "anthropic", "ollama"]

_ANTHROPIC_ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    529: "overloaded_error",
}
_OPENAI_ERROR_TYPES = {
    400: "invalid_request_error",
    401: "invalid_request_error",
    403: "permission_error",
    404: "invalid_request_error",
    429: "rate_limit_exceeded",
}


@dataclass(frozen=True, slots=True)
class StreamFrames:
    content_type: str
    prelude: tuple[bytes, ...]
    pieces: tuple[bytes, ...]
    coda: tuple[bytes, ...]


def dumps(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def error_body(api: Api, status: int, message: str) -> bytes:
    """``{"error": {...}}`` (OpenAI), ``{"type": "error", ...}`` (Anthropic), ``{"error": s}``."""
    if api == "anthropic":
        kind = _ANTHROPIC_ERROR_TYPES.get(status, "api_error")
        return dumps({"type": "error", "error": {"type": kind, "message": message}})
    if api == "ollama":
        return dumps({"error": message})
    kind = _OPENAI_ERROR_TYPES.get(status, "server_error" if status >= 500 else "error")
    return dumps({"error": {"message": message, "type": kind, "param": None, "code": None}})


def completion_body(
    api: Api, *, model: str, text: str, prompt_tokens: int, completion_tokens: int, seq: int
) -> bytes:
    if api == "anthropic":
        return dumps(
            {
                "id": f"msg_fake_{seq}",
                "type": "message",
                "role": "assistant",
                "model": model,
                "content": [{"type": "text", "text": text}],
                "stop_reason": "end_turn",
                "stop_sequence": None,
                "usage": {"input_tokens": prompt_tokens, "output_tokens": completion_tokens},
            }
        )
    if api == "ollama":
        return dumps(
            {
                "model": model,
                "created_at": "1970-01-01T00:00:00Z",
                "message": {"role": "assistant", "content": text},
                "done": True,
                "done_reason": "stop",
                "prompt_eval_count": prompt_tokens,
                "eval_count": completion_tokens,
            }
        )
    return dumps(
        {
            "id": f"chatcmpl-fake-{seq}",
            "object": "chat.completion",
            "created": 0,
            "model": model,
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": text},
                    "finish_reason": "stop",
                }
            ],
            "usage": {
                "prompt_tokens": prompt_tokens,
                "completion_tokens": completion_tokens,
                "total_tokens": prompt_tokens + completion_tokens,
            },
        }
    )


def _sse(data: Any, event: str | None = None) -> bytes:
    return encode_event(dumps(data).decode("utf-8"), event).encode("utf-8")


def _openai_chunk(model: str, seq: int, delta: dict[str, Any], finish: str | None) -> bytes:
    return _sse(
        {
            "id": f"chatcmpl-fake-{seq}",
            "object": "chat.completion.chunk",
            "created": 0,
            "model": model,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
        }
    )


def stream_frames(
    api: Api,
    *,
    model: str,
    pieces: Sequence[str],
    prompt_tokens: int,
    completion_tokens: int,
    seq: int,
    include_usage: bool = True,
) -> StreamFrames:
    if api == "anthropic":
        start = {
            "type": "message_start",
            "message": {
                "id": f"msg_fake_{seq}",
                "type": "message",
                "role": "assistant",
                "model": model,
                "content": [],
                "stop_reason": None,
                "usage": {"input_tokens": prompt_tokens, "output_tokens": 1},
            },
        }
        block = {
            "type": "content_block_start",
            "index": 0,
            "content_block": {"type": "text", "text": ""},
        }
        return StreamFrames(
            "text/event-stream",
            (
                _sse(start, "message_start"),
                _sse(block, "content_block_start"),
                _sse({"type": "ping"}, "ping"),
            ),
            tuple(
                _sse(
                    {
                        "type": "content_block_delta",
                        "index": 0,
                        "delta": {"type": "text_delta", "text": p},
                    },
                    "content_block_delta",
                )
                for p in pieces
            ),
            (
                _sse({"type": "content_block_stop", "index": 0}, "content_block_stop"),
                _sse(
                    {
                        "type": "message_delta",
                        "delta": {"stop_reason": "end_turn", "stop_sequence": None},
                        "usage": {"output_tokens": completion_tokens},
                    },
                    "message_delta",
                ),
                _sse({"type": "message_stop"}, "message_stop"),
            ),
        )
    if api == "ollama":

        def line(content: str, done: bool) -> bytes:
            obj: dict[str, Any] = {
                "model": model,
                "created_at": "1970-01-01T00:00:00Z",
                "message": {"role": "assistant", "content": content},
                "done": done,
            }
            if done:
                obj.update(
                    done_reason="stop",
                    prompt_eval_count=prompt_tokens,
                    eval_count=completion_tokens,
                )
            return dumps(obj) + b"\n"

        return StreamFrames(
            "application/x-ndjson", (), tuple(line(p, False) for p in pieces), (line("", True),)
        )
    coda = [_openai_chunk(model, seq, {}, "stop")]
    if include_usage:
        coda.append(
            _sse(
                {
                    "id": f"chatcmpl-fake-{seq}",
                    "object": "chat.completion.chunk",
                    "created": 0,
                    "model": model,
                    "choices": [],
                    "usage": {
                        "prompt_tokens": prompt_tokens,
                        "completion_tokens": completion_tokens,
                        "total_tokens": prompt_tokens + completion_tokens,
                    },
                }
            )
        )
    coda.append(b"data: [DONE]\n\n")
    return StreamFrames(
        "text/event-stream",
        (
            b": keep-alive\n\n",
            _openai_chunk(model, seq, {"role": "assistant", "content": ""}, None),
        ),
        tuple(_openai_chunk(model, seq, {"content": p}, None) for p in pieces),
        tuple(coda),
    )


def malformed_frame(api: Api) -> bytes:
    """One frame that claims to be an event but is not JSON."""
    if api == "ollama":
        return b'{"message": {"content": "oops\n'
    if api == "anthropic":
        return b"event: content_block_delta\ndata: {oops\n\n"
    return b"data: {oops\n\n"


def models_body(api: Literal["openai", "anthropic", "ollama"], models: Sequence[str]) -> bytes:
    if api == "ollama":
        return dumps(
            {
                "models": [
                    {
                        "name": m,
                        "model": m,
                        "modified_at": "1970-01-01T00:00:00Z",
                        "size": 0,
                        "digest": "0" * 64,
                        "details": {"family": "fake"},
                    }
                    for m in models
                ]
            }
        )
    if api == "anthropic":
        return dumps(
            {
                "data": [
                    {
                        "type": "model",
                        "id": m,
                        "display_name": m,
                        "created_at": "1970-01-01T00:00:00Z",
                    }
                    for m in models
                ],
                "has_more": False,
                "first_id": models[0] if models else None,
                "last_id": models[-1] if models else None,
            }
        )
    return dumps(
        {
            "object": "list",
            "data": [
                {"id": m, "object": "model", "created": 0, "owned_by": "fake"} for m in models
            ],
        }
    )
