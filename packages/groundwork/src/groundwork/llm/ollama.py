"""Ollama's native API: ``POST /api/chat`` (JSON or NDJSON stream), ``GET /api/tags``.

No key by default; one given is sent as a Bearer token (for Ollama behind a
proxy). A base URL ending in ``/v1`` (its OpenAI shim) is cut back to the root.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import httpx

from groundwork.llm.errors import MalformedResponse, error_for_type
from groundwork.llm.http import HTTPProvider, StreamParser, decode_json, strip_v1
from groundwork.llm.types import Completion, Message, Options, Timeouts, Usage

DEFAULT_BASE_URL = "http://localhost:11434"


def ollama_options(options: Options) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key in ("temperature", "top_p", "frequency_penalty", "presence_penalty"):
        value = getattr(options, key)
        if value is not None:
            out[key] = value
    if options.max_tokens is not None:
        out["num_predict"] = options.max_tokens
    if options.stop is not None:
        out["stop"] = list(options.stop)
    return out


def _usage(data: dict[str, Any]) -> Usage:
    return Usage(int(data.get("prompt_eval_count") or 0), int(data.get("eval_count") or 0))


class OllamaStreamParser:
    """One JSON object per line; the one with ``done: true`` carries the counts."""

    def __init__(self) -> None:
        self._done = False
        self._text: list[str] = []
        self._last: dict[str, Any] = {}

    @property
    def done(self) -> bool:
        return self._done

    def feed(self, line: str) -> list[str]:
        if not line.strip():
            return []
        obj = decode_json(line, "stream line")
        if not isinstance(obj, dict):
            raise MalformedResponse(f"stream line is not an object: {line[:80]!r}")
        if obj.get("error") is not None:
            raise error_for_type(None, str(obj["error"]))
        message = obj.get("message") or {}
        content = message.get("content") if isinstance(message, dict) else None
        if obj.get("done"):
            self._done = True
            self._last = obj
        if content:
            text = str(content)
            self._text.append(text)
            return [text]
        return []

    def end(self) -> list[str]:
        return []

    def completion(self, model: str, latency_ms: float) -> Completion:
        if not self._done:
            raise MalformedResponse("stream ended before done:true")
        last = self._last
        return Completion(
            "".join(self._text),
            str(last.get("model") or model),
            _usage(last),
            str(last.get("done_reason") or "stop"),
            latency_ms,
        )


class OllamaProvider(HTTPProvider):
    chat_path = "/api/chat"
    models_path = "/api/tags"
    family = "ollama"

    def __init__(
        self,
        *,
        model: str,
        base_url: str | None = None,
        api_key: str | None = None,
        name: str | None = None,
        timeouts: Timeouts | None = None,
        options: Options | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        super().__init__(
            base_url=strip_v1(base_url or DEFAULT_BASE_URL),
            name=name or "ollama",
            type="ollama",
            model=model,
            api_key=api_key,
            timeouts=timeouts,
            options=options,
            headers=headers,
            transport=transport,
        )

    def chat_body(
        self, messages: Sequence[Message], options: Options, *, stream: bool
    ) -> dict[str, Any]:
        body: dict[str, Any] = {
            "model": self.model,
            "messages": [{"role": m.role, "content": m.content} for m in messages],
            "stream": stream,
        }
        opts = ollama_options(options)
        if opts:
            body["options"] = opts
        return body

    def parse_completion(self, data: Any, latency_ms: float) -> Completion:
        if data.get("error") is not None:
            raise error_for_type(None, str(data["error"]))
        content = data["message"]["content"]
        if not isinstance(content, str):
            raise MalformedResponse("message content is not a string")
        return Completion(
            content,
            str(data.get("model") or self.model),
            _usage(data),
            str(data.get("done_reason") or "stop"),
            latency_ms,
        )

    def stream_parser(self) -> StreamParser:
        return OllamaStreamParser()

    def parse_models(self, data: Any) -> list[str]:
        return [str(m["name"]) for m in data["models"]]
