"""OpenAI chat completions (``openai``) and servers that speak it (``openai-compatible``).

``POST {base}/chat/completions`` as JSON or SSE (``stream_options.include_usage``
asks for the usage-only final chunk), ``GET {base}/models``. ``base`` always
ends in ``/v1`` whether or not the caller wrote it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import httpx

from groundwork.llm.errors import MalformedResponse, error_for_status, error_for_type
from groundwork.llm.http import HTTPProvider, StreamParser, decode_json, with_v1
from groundwork.llm.sse import ServerSentEvent, SSEStreamParser
from groundwork.llm.types import Completion, Message, Options, Timeouts, Usage

DEFAULT_BASE_URL = "https://api.openai.com/v1"


def openai_options(options: Options) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key in ("temperature", "max_tokens", "top_p", "frequency_penalty", "presence_penalty"):
        value = getattr(options, key)
        if value is not None:
            out[key] = value
    if options.stop is not None:
        out["stop"] = list(options.stop)
    return out


def _usage(raw: Any) -> Usage | None:
    if not isinstance(raw, dict):
        return None
    return Usage(int(raw.get("prompt_tokens") or 0), int(raw.get("completion_tokens") or 0))


def _raise_chunk_error(err: Any) -> None:
    if isinstance(err, dict):
        code = err.get("code")
        message = str(err.get("message") or "")
        if isinstance(code, int) and 400 <= code <= 599:
            raise error_for_status(code, message)
        raise error_for_type(str(err.get("type") or "") or None, message)
    raise error_for_type(None, str(err))


class OpenAIStreamParser(SSEStreamParser):
    """SSE chunks → text; skips keep-alives and usage-only chunks (empty ``choices``)."""

    def __init__(self) -> None:
        super().__init__()
        self._text: list[str] = []
        self._finish: str | None = None
        self._usage: Usage | None = None
        self._model: str | None = None

    def _on_event(self, event: ServerSentEvent) -> list[str]:
        if event.data.strip() == "[DONE]":
            self._done = True
            return []
        chunk = decode_json(event.data, "stream chunk")
        if not isinstance(chunk, dict):
            raise MalformedResponse(f"stream chunk is not an object: {event.data[:80]!r}")
        if chunk.get("error") is not None:
            _raise_chunk_error(chunk["error"])
        if isinstance(chunk.get("model"), str):
            self._model = chunk["model"]
        usage = _usage(chunk.get("usage"))
        if usage is not None:
            self._usage = usage
        choices = chunk.get("choices")
        if not choices:
            return []
        if not isinstance(choices, list) or not isinstance(choices[0], dict):
            raise MalformedResponse("stream chunk has malformed choices")
        choice = choices[0]
        if choice.get("finish_reason"):
            self._finish = str(choice["finish_reason"])
        delta = choice.get("delta") or {}
        content = delta.get("content") if isinstance(delta, dict) else None
        if content:
            text = str(content)
            self._text.append(text)
            return [text]
        return []

    def completion(self, model: str, latency_ms: float) -> Completion:
        if not self._done and self._finish is None:
            raise MalformedResponse("stream ended before [DONE]")
        return Completion(
            "".join(self._text),
            self._model or model,
            self._usage or Usage(),
            self._finish,
            latency_ms,
        )


class OpenAIProvider(HTTPProvider):
    """Bearer-key OpenAI API; ``type`` is ``openai`` or ``openai-compatible``."""

    chat_path = "/chat/completions"
    models_path = "/models"

    family = "openai"

    def __init__(
        self,
        *,
        model: str,
        base_url: str | None = None,
        api_key: str | None = None,
        name: str | None = None,
        type: str = "openai",
        timeouts: Timeouts | None = None,
        options: Options | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        super().__init__(
            base_url=with_v1(base_url or DEFAULT_BASE_URL),
            name=name or type,
            type=type,
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
            **openai_options(options),
        }
        if stream:
            body["stream_options"] = {"include_usage": True}
        return body

    def parse_completion(self, data: Any, latency_ms: float) -> Completion:
        choice = data["choices"][0]
        content = choice["message"].get("content")
        if content is not None and not isinstance(content, str):
            raise MalformedResponse("message content is not a string")
        return Completion(
            content or "",
            str(data.get("model") or self.model),
            _usage(data.get("usage")) or Usage(),
            choice.get("finish_reason"),
            latency_ms,
        )

    def stream_parser(self) -> StreamParser:
        return OpenAIStreamParser()

    def parse_models(self, data: Any) -> list[str]:
        return [str(m["id"]) for m in data["data"]]
