"""The shared HTTP half of the OpenAI, Anthropic and Ollama providers.

``HTTPProvider`` owns one ``httpx.AsyncClient`` (transport injectable for
tests) and runs the request/stream loop; subclasses only build bodies and
parse replies with pure parser objects. Every failure leaves through
``to_llm_error``, the one boundary from httpx exceptions and HTTP statuses to
the ``LLMError`` tree, so no caller ever sees an httpx type. The client never
reads proxy settings from the environment (``trust_env=False``).
"""

from __future__ import annotations

import abc
import email.utils
import functools
import json
import math
import ssl
from collections.abc import AsyncIterator, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, ClassVar, Protocol

import httpx

from groundwork.llm.errors import (
    LLMConfigError,
    LLMConnectionError,
    LLMError,
    LLMTimeout,
    MalformedResponse,
    error_for_status,
    scrub,
)
from groundwork.llm.sse import LineSplitter
from groundwork.llm.timing import CallClock
from groundwork.llm.types import (
    Completion,
    Delta,
    Done,
    Message,
    Options,
    StreamEvent,
    Timeouts,
    as_messages,
)

_MAX_ERROR_CHARS = 300


class StreamParser(Protocol):
    """Pure per-stream state: lines in, text pieces out."""

    @property
    def done(self) -> bool: ...

    def feed(self, line: str) -> list[str]: ...

    def end(self) -> list[str]: ...

    def completion(self, model: str, latency_ms: float) -> Completion: ...


def parse_retry_after(headers: Mapping[str, str], now: datetime | None = None) -> float | None:
    """Seconds to wait from ``retry-after-ms`` or ``Retry-After`` (seconds or HTTP-date)."""
    ms = headers.get("retry-after-ms")
    if ms is not None:
        try:
            value = float(ms)
        except ValueError:
            value = math.nan
        if math.isfinite(value) and value >= 0:
            return value / 1000.0
    raw = headers.get("retry-after")
    if raw is None:
        return None
    raw = raw.strip()
    try:
        seconds = float(raw)
    except ValueError:
        pass
    else:
        return max(0.0, seconds) if math.isfinite(seconds) else None
    try:
        when = email.utils.parsedate_to_datetime(raw)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


def error_message(body: bytes) -> str:
    """The human part of an error body in OpenAI, Anthropic or Ollama shape."""
    text = body.decode("utf-8", "replace").strip()
    try:
        data = json.loads(text)
    except ValueError:
        return text[:_MAX_ERROR_CHARS]
    msg: Any = None
    if isinstance(data, dict):
        err = data.get("error")
        if isinstance(err, dict):
            msg = err.get("message") or err.get("type")
        elif isinstance(err, str):
            msg = err
        elif isinstance(data.get("message"), str):
            msg = data["message"]
    return str(msg if msg else text)[:_MAX_ERROR_CHARS]


def decode_json(body: bytes | str, what: str) -> Any:
    """Parse a reply body; anything unparsable is ``MalformedResponse``."""
    try:
        return json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise MalformedResponse(f"{what} is not valid JSON: {exc}") from None


_TIMEOUT_PHASES: dict[type[httpx.TimeoutException], str] = {
    httpx.ConnectTimeout: "connect",
    httpx.ReadTimeout: "read",
    httpx.WriteTimeout: "write",
    httpx.PoolTimeout: "pool",
}


def to_llm_error(
    source: BaseException | httpx.Response,
    *,
    provider: str,
    secret: str | None = None,
    body: bytes = b"",
    partial_text: str | None = None,
) -> LLMError:
    """Map an httpx exception, any other exception or an error response to the tree."""
    err: LLMError
    if isinstance(source, httpx.Response):
        message = error_message(body)
        location = source.headers.get("location")
        if 300 <= source.status_code < 400 and location:
            message = f"redirected to {location}; check base_url"
        err = error_for_status(
            source.status_code,
            scrub(message, secret),
            retry_after=parse_retry_after(source.headers),
        )
    elif isinstance(source, LLMError):
        err = source
    elif isinstance(source, httpx.TimeoutException):
        err = LLMTimeout(_TIMEOUT_PHASES.get(type(source), "read"))
    elif isinstance(source, httpx.UnsupportedProtocol | httpx.InvalidURL):
        err = LLMConfigError(f"bad base_url: {scrub(str(source), secret)}")
    elif isinstance(source, httpx.DecodingError):
        err = MalformedResponse(f"undecodable body: {scrub(str(source), secret)}")
    elif isinstance(source, httpx.TransportError | OSError):
        detail = scrub(str(source), secret)
        name = type(source).__name__
        err = LLMConnectionError(
            f"connection failed ({name}): {detail}" if detail else f"connection failed ({name})"
        )
    else:
        err = LLMError(f"unexpected {type(source).__name__}: {scrub(str(source), secret)}")
    if err.provider is None:
        err.provider = provider
    if err.partial_text is None and partial_text:
        err.partial_text = partial_text
    return err


@functools.cache
def _ssl_context() -> ssl.SSLContext:
    """One verifying context for all clients: building one costs ~20 ms per provider."""
    return httpx.create_ssl_context()


def strip_v1(base_url: str) -> str:
    """``http://h:1/v1/`` → ``http://h:1``: the APIs whose paths start with ``/v1`` or ``/api``."""
    url = base_url.rstrip("/")
    return url.removesuffix("/v1")


def with_v1(base_url: str) -> str:
    """``http://h:1`` → ``http://h:1/v1``: OpenAI-style bases, given with or without it."""
    return strip_v1(base_url) + "/v1"


class HTTPProvider(abc.ABC):
    """One attempt per call over one pooled client; subclasses fill in the API shape."""

    family: ClassVar[str] = "http"
    chat_path: ClassVar[str]
    """Chat endpoint under ``base_url`` (JSON and streaming share it)."""
    models_path: ClassVar[str]
    """Model-list endpoint under ``base_url`` that ``list_models`` reads."""

    def __init__(
        self,
        *,
        base_url: str,
        name: str,
        type: str,
        model: str,
        api_key: str | None,
        timeouts: Timeouts | None,
        options: Options | None,
        headers: Mapping[str, str],
        transport: httpx.AsyncBaseTransport | None,
    ) -> None:
        if not model:
            raise LLMConfigError(f"provider {name!r} needs a model")
        self._base = base_url
        self._name = name
        self._type = type
        self._model = model
        self._secret = api_key
        self.timeouts = timeouts or Timeouts()
        self.options = options or Options()
        t = self.timeouts
        self._client = httpx.AsyncClient(
            transport=transport,
            headers=dict(headers),
            timeout=httpx.Timeout(None, connect=t.connect_s, pool=t.connect_s),
            trust_env=False,
            follow_redirects=False,
            verify=_ssl_context(),
        )

    @property
    def name(self) -> str:
        return self._name

    @property
    def type(self) -> str:
        return self._type

    @property
    def model(self) -> str:
        return self._model

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(name={self._name!r}, type={self._type!r}, "
            f"model={self._model!r}, base_url={self.base_url!r})"
        )

    async def __aenter__(self) -> HTTPProvider:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._client.aclose()

    # -- what subclasses provide -------------------------------------------------

    @property
    def base_url(self) -> str:
        """The normalised base URL the endpoints hang off."""
        return self._base

    def chat_url(self) -> str:
        return self._base + self.chat_path

    def models_url(self) -> str:
        return self._base + self.models_path

    @abc.abstractmethod
    def chat_body(
        self, messages: Sequence[Message], options: Options, *, stream: bool
    ) -> dict[str, Any]:
        """The request body in the API's shape; ``options`` are already merged."""

    @abc.abstractmethod
    def parse_completion(self, data: Any, latency_ms: float) -> Completion:
        """A parsed JSON reply; shape errors (KeyError, TypeError, ...) become MalformedResponse."""

    @abc.abstractmethod
    def stream_parser(self) -> StreamParser:
        """A fresh parser for one stream."""

    @abc.abstractmethod
    def parse_models(self, data: Any) -> list[str]:
        """Model ids from the model-list reply."""

    # -- the request loop ---------------------------------------------------------

    def _error(
        self,
        source: BaseException | httpx.Response,
        *,
        body: bytes = b"",
        partial: Sequence[str] = (),
    ) -> LLMError:
        return to_llm_error(
            source,
            provider=self._name,
            secret=self._secret,
            body=body,
            partial_text="".join(partial) or None,
        )

    async def _send(
        self, request: httpx.Request, clock: CallClock, *, streaming: bool
    ) -> httpx.Response:
        try:
            response = await clock.bounded(
                self._client.send(request, stream=True), streaming=streaming
            )
        except Exception as exc:
            raise self._error(exc) from (None if isinstance(exc, LLMError) else exc)
        if response.status_code >= 300:  # redirects are not followed: a wrong base_url
            body = b""
            try:
                body = await clock.bounded(response.aread(), streaming=False)
            except Exception:  # the status alone classifies the failure
                body = b""
            finally:
                await response.aclose()
            raise self._error(response, body=body)
        return response

    async def _read_json(self, request: httpx.Request, clock: CallClock, what: str) -> Any:
        response = await self._send(request, clock, streaming=False)
        try:
            body = await clock.bounded(response.aread(), streaming=False)
        except Exception as exc:
            raise self._error(exc) from (None if isinstance(exc, LLMError) else exc)
        finally:
            await response.aclose()
        try:
            return decode_json(body, what)
        except LLMError as exc:
            raise self._error(exc) from None

    async def complete(
        self, messages: Sequence[Message], options: Options | None = None
    ) -> Completion:
        msgs = as_messages(messages)
        body = self.chat_body(msgs, self.options.merged(options), stream=False)
        clock = CallClock(self.timeouts)
        request = self._client.build_request("POST", self.chat_url(), json=body)
        data = await self._read_json(request, clock, "completion")
        try:
            return self.parse_completion(data, clock.elapsed_ms())
        except LLMError as exc:
            raise self._error(exc) from None
        except (KeyError, IndexError, TypeError, AttributeError, ValueError) as exc:
            raise self._error(MalformedResponse(f"unexpected completion shape: {exc!r}")) from None

    async def stream(
        self, messages: Sequence[Message], options: Options | None = None
    ) -> AsyncIterator[StreamEvent]:
        msgs = as_messages(messages)
        body = self.chat_body(msgs, self.options.merged(options), stream=True)
        clock = CallClock(self.timeouts)
        request = self._client.build_request("POST", self.chat_url(), json=body)
        response = await self._send(request, clock, streaming=True)
        parser = self.stream_parser()
        splitter = LineSplitter()
        sent: list[str] = []
        try:
            chunks = response.aiter_text()
            while True:
                try:
                    chunk = await clock.bounded(anext(chunks, None), streaming=True)
                except Exception as exc:
                    cause = None if isinstance(exc, LLMError) else exc
                    raise self._error(exc, partial=sent) from cause
                try:
                    lines = splitter.flush() if chunk is None else splitter.feed(chunk)
                except ValueError as exc:  # an over-long line
                    raise self._error(MalformedResponse(str(exc)), partial=sent) from None
                feeds: list[str | None] = [*lines, None] if chunk is None else list(lines)
                for line in feeds:
                    try:
                        pieces = parser.end() if line is None else parser.feed(line)
                    except LLMError as exc:
                        raise self._error(exc, partial=sent) from None
                    for piece in pieces:
                        if piece:
                            sent.append(piece)
                            clock.mark_first()
                            yield Delta(piece)
                    if parser.done:  # ignore anything after the end marker
                        break
                if parser.done or chunk is None:
                    break
            try:
                completion = parser.completion(self._model, clock.elapsed_ms())
            except LLMError as exc:
                raise self._error(exc, partial=sent) from None
        finally:
            await response.aclose()
        yield Done(completion)

    async def list_models(self) -> list[str]:
        clock = CallClock(self.timeouts)
        request = self._client.build_request("GET", self.models_url())
        data = await self._read_json(request, clock, "model list")
        try:
            return self.parse_models(data)
        except (KeyError, IndexError, TypeError, AttributeError) as exc:
            raise self._error(MalformedResponse(f"unexpected model list shape: {exc!r}")) from None
