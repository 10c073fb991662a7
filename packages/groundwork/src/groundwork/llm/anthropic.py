"""Anthropic Messages API: ``POST /v1/messages`` (JSON or event stream), ``GET /v1/models``.

System messages travel as the top-level ``system`` string, ``max_tokens`` is
required by the API so a default is sent, and the key goes in ``x-api-key``
next to ``anthropic-version: 2023-06-01``. Frequency and presence penalties do
not exist in this API and are not sent.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import httpx

from groundwork.llm.errors import MalformedResponse, error_for_type
from groundwork.llm.http import HTTPProvider, StreamParser, decode_json, strip_v1
from groundwork.llm.sse import ServerSentEvent, SSEStreamParser
from groundwork.llm.types import Completion, Message, Options, Timeouts, Usage

DEFAULT_BASE_URL = "https://api.anthropic.com"
ANTHROPIC_VERSION = "2023-06-01"
DEFAULT_MAX_TOKENS = 4096

_FINISH = {"end_turn": "stop", "stop_sequence": "stop", "max_tokens": "length"}


def finish_reason(stop_reason: Any) -> str | None:
    """Anthropic's ``stop_reason`` in OpenAI's words, so callers check one vocabulary."""
    if stop_reason is None:
        return None
    return _FINISH.get(str(stop_reason), str(stop_reason))


def _text_of(content: Any) -> str:
    if not isinstance(content, list):
        raise MalformedResponse("message content is not a list of blocks")
    return "".join(
        str(b.get("text") or "") for b in content if isinstance(b, dict) and b.get("type") == "text"
    )


class AnthropicStreamParser(SSEStreamParser):
    """``message_start`` … ``content_block_delta`` … ``message_stop``; ``error`` raises."""

    def __init__(self) -> None:
        super().__init__()
        self._text: list[str] = []
        self._model: str | None = None
        self._finish: str | None = None
        self._input = 0
        self._output = 0

    def _on_event(self, event: ServerSentEvent) -> list[str]:
        data = decode_json(event.data, f"{event.event} event")
        if not isinstance(data, dict):
            raise MalformedResponse(f"{event.event} event is not an object")
        kind = data.get("type") or event.event
        if kind == "error":
            raw = data.get("error")
            err: dict[str, Any] = raw if isinstance(raw, dict) else {}
            raise error_for_type(err.get("type"), str(err.get("message") or ""))
        if kind == "message_start":
            message = data.get("message") or {}
            if isinstance(message.get("model"), str):
                self._model = message["model"]
            usage = message.get("usage") or {}
            self._input = int(usage.get("input_tokens") or 0)
            self._output = int(usage.get("output_tokens") or 0)
        elif kind == "content_block_delta":
            delta = data.get("delta") or {}
            if delta.get("type") == "text_delta" and delta.get("text"):
                text = str(delta["text"])
                self._text.append(text)
                return [text]
        elif kind == "message_delta":
            delta = data.get("delta") or {}
            if delta.get("stop_reason") is not None:
                self._finish = finish_reason(delta["stop_reason"])
            usage = data.get("usage") or {}
            if usage.get("output_tokens") is not None:
                self._output = int(usage["output_tokens"])
            if usage.get("input_tokens") is not None:
                self._input = int(usage["input_tokens"])
        elif kind == "message_stop":
            self._done = True
        return []

    def completion(self, model: str, latency_ms: float) -> Completion:
        if not self._done:
            raise MalformedResponse("stream ended before message_stop")
        return Completion(
            "".join(self._text),
            self._model or model,
            Usage(self._input, self._output),
            self._finish,
            latency_ms,
        )


class AnthropicProvider(HTTPProvider):
    chat_path = "/v1/messages"
    models_path = "/v1/models"
    family = "anthropic"

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
        default_max_tokens: int = DEFAULT_MAX_TOKENS,
    ) -> None:
        self.default_max_tokens = default_max_tokens
        headers = {"anthropic-version": ANTHROPIC_VERSION}
        if api_key:
            headers["x-api-key"] = api_key
        super().__init__(
            base_url=strip_v1(base_url or DEFAULT_BASE_URL),
            name=name or "anthropic",
            type="anthropic",
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
        system = "\n\n".join(m.content for m in messages if m.role == "system")
        body: dict[str, Any] = {
            "model": self.model,
            "max_tokens": options.max_tokens or self.default_max_tokens,
            "messages": [
                {"role": m.role, "content": m.content} for m in messages if m.role != "system"
            ],
        }
        if system:
            body["system"] = system
        if options.temperature is not None:
            body["temperature"] = options.temperature
        if options.top_p is not None:
            body["top_p"] = options.top_p
        if options.stop is not None:
            body["stop_sequences"] = list(options.stop)
        if stream:
            body["stream"] = True
        return body

    def parse_completion(self, data: Any, latency_ms: float) -> Completion:
        usage = data.get("usage") or {}
        return Completion(
            _text_of(data["content"]),
            str(data.get("model") or self.model),
            Usage(int(usage.get("input_tokens") or 0), int(usage.get("output_tokens") or 0)),
            finish_reason(data.get("stop_reason")),
            latency_ms,
        )

    def stream_parser(self) -> StreamParser:
        return AnthropicStreamParser()

    def parse_models(self, data: Any) -> list[str]:
        return [str(m["id"]) for m in data["data"]]
