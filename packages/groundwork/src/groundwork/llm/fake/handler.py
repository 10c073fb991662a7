"""The request handler of the fake LLM server: routing, auth checks and fault actions.

All state (scripts, records, reply and key functions) lives on ``FakeLLMServer``;
this module only speaks HTTP/1.1: Content-Length bodies, chunked streams, resets.
"""

from __future__ import annotations

import json
import socket
import struct
import sys
import threading
import traceback
from collections.abc import Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Protocol
from urllib.parse import urlsplit

from groundwork.llm.fake import wire
from groundwork.llm.fake.request import FakeRequest, RequestRejected, parse_messages
from groundwork.llm.fake.wire import Api
from groundwork.llm.faults import Action, Actions, parse_script
from groundwork.llm.mock import count_tokens, prompt_tokens, split_pieces


class FakeState(Protocol):
    """What the handler needs of its owner (``FakeLLMServer``), so the handler
    never imports the server module: the server depends on the handler, not back."""

    api_key: str | None
    models: tuple[str, ...]
    stopping: bool
    errors: list[str]

    @property
    def release_event(self) -> threading.Event: ...
    def stats(self) -> dict[str, Any]: ...
    def reset(self) -> None: ...
    def script(self, actions: Actions, key: str | None = None) -> None: ...
    def key_for(self, request: FakeRequest) -> str: ...
    def next_action(self, key: str) -> Action: ...
    def reply_for(self, request: FakeRequest) -> str: ...
    def next_seq(self) -> int: ...
    def record(
        self,
        method: str,
        path: str,
        api: str,
        headers: Mapping[str, str],
        body: Any,
        *,
        key: str,
        outcome: str,
    ) -> dict[str, Any]: ...
    def finish_record(self, entry: dict[str, Any], status: int) -> None: ...


CHAT_ROUTES: dict[str, Api] = {
    "/v1/chat/completions": "openai",
    "/v1/messages": "anthropic",
    "/api/chat": "ollama",
}
_MAX_BODY = 64 * 1024 * 1024


class FakeHTTPServer(ThreadingHTTPServer):
    """Tracks open sockets and handler threads so ``FakeLLMServer.stop()`` can end them."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, addr: tuple[str, int], fake: FakeState) -> None:
        self.fake = fake
        self.open_sockets: set[socket.socket] = set()
        self.handler_threads: set[threading.Thread] = set()
        self.track_lock = threading.Lock()
        super().__init__(addr, FakeHandler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Never print: a client hanging up is routine here; anything else is kept
        in ``FakeLLMServer.errors`` for the test to look at."""
        exc = sys.exc_info()[1]
        if exc is not None and not isinstance(exc, OSError):
            self.fake.errors.append("".join(traceback.format_exception(exc)))

    def process_request(self, request: Any, client_address: Any) -> None:
        with self.track_lock:
            self.open_sockets.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self.track_lock:
            self.open_sockets.discard(request)
        super().shutdown_request(request)


class _Abort(Exception):
    """The handler has dropped the connection on purpose (released hang, reset)."""


class FakeHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: FakeHTTPServer

    def setup(self) -> None:
        with self.server.track_lock:
            self.server.handler_threads.add(threading.current_thread())
        super().setup()
        try:  # small writes (headers, then body or one SSE frame) must not wait for Nagle
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except OSError:
            pass

    def finish(self) -> None:
        try:
            super().finish()
        except OSError:
            pass
        with self.server.track_lock:
            self.server.handler_threads.discard(threading.current_thread())

    def log_message(self, format: str, *args: Any) -> None:
        """Silent: test output stays clean; the records are in ``/_fake/stats``."""

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def do_PUT(self) -> None:
        self._dispatch("PUT")

    def do_DELETE(self) -> None:
        self._dispatch("DELETE")

    # -- plumbing -----------------------------------------------------------------

    def _read_body(self) -> bytes:
        try:
            length = int(self.headers.get("content-length") or 0)
        except ValueError:
            raise RequestRejected(400, "bad Content-Length") from None
        if length < 0 or length > _MAX_BODY:
            raise RequestRejected(413, "request body too large")
        return self.rfile.read(length) if length else b""

    def _send_bytes(
        self,
        status: int,
        body: bytes,
        content_type: str = "application/json",
        extra: Mapping[str, str] | None = None,
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for k, v in (extra or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)

    def _start_chunked(self, content_type: str) -> None:
        self.send_response(200)
        self.send_header("Content-Type", content_type)
        self.send_header("Transfer-Encoding", "chunked")
        self.send_header("Cache-Control", "no-cache")
        self.end_headers()

    def _chunk(self, data: bytes) -> None:
        if data:
            self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))

    def _end_chunked(self) -> None:
        self.wfile.write(b"0\r\n\r\n")

    def _rst(self) -> None:
        """Close with SO_LINGER 0, so the client sees a reset, not a clean end."""
        self.close_connection = True
        try:
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        except OSError:
            pass
        self.rfile.close()
        self.connection.close()

    def _wait(self, release: threading.Event, seconds: float | None) -> None:
        """Sleep (``None`` = until released); a release means stop/reset, so drop the call."""
        if release.wait(seconds):
            self.close_connection = True
            raise _Abort

    # -- routing ------------------------------------------------------------------

    def _dispatch(self, method: str) -> None:
        fake = self.server.fake
        path = urlsplit(self.path).path
        try:
            raw = self._read_body()
            if path.startswith("/_fake/"):
                self._control(method, path, raw)
            elif method == "POST" and path in CHAT_ROUTES:
                self._api(method, path, CHAT_ROUTES[path], raw, chat=True)
            elif method == "GET" and path == "/v1/models":
                api: Api = "anthropic" if "anthropic-version" in self.headers else "openai"
                self._api(method, path, api, raw, chat=False)
            elif method == "GET" and path == "/api/tags":
                self._api(method, path, "ollama", raw, chat=False)
            else:
                body = wire.error_body("openai", 404, f"no route for {method} {path}")
                self._send_bytes(404, body)
        except _Abort:
            pass
        except RequestRejected as exc:
            self._send_bytes(exc.status, wire.error_body("openai", exc.status, exc.message))
        except OSError:  # the client went away (reset, broken pipe)
            self.close_connection = True
        finally:
            if fake.stopping:
                self.close_connection = True

    def _control(self, method: str, path: str, raw: bytes) -> None:
        fake = self.server.fake
        if method == "GET" and path == "/_fake/stats":
            self._send_bytes(200, wire.dumps(fake.stats()))
        elif method == "POST" and path == "/_fake/reset":
            fake.reset()
            self._send_bytes(200, b'{"ok":true}')
        elif method == "POST" and path == "/_fake/script":
            try:
                spec = json.loads(raw or b"{}")
                fake.script(parse_script(str(spec.get("actions", ""))), key=spec.get("key"))
            except (ValueError, AttributeError) as exc:
                raise RequestRejected(400, f"bad script: {exc}") from None
            self._send_bytes(200, b'{"ok":true}')
        else:
            raise RequestRejected(404, f"no control route {method} {path}")

    def _api(self, method: str, path: str, api: Api, raw: bytes, *, chat: bool) -> None:
        fake = self.server.fake
        headers = {k.lower(): v for k, v in self.headers.items()}
        body: Any = None
        try:
            if raw:
                try:
                    body = json.loads(raw)
                except ValueError:
                    body = raw.decode("utf-8", "replace")
                    raise RequestRejected(400, "request body is not valid JSON") from None
            auth = self._auth_failure(api, headers)
            if auth is not None:
                raise auth
            messages = parse_messages(api, body) if chat else ()
        except RequestRejected as exc:
            # keyed by path: key_fn may not cope with a body this broken
            entry = fake.record(method, path, api, headers, body, key=path, outcome="rejected")
            fake.finish_record(entry, exc.status)
            self._send_bytes(exc.status, wire.error_body(api, exc.status, exc.message))
            return
        stream = bool(isinstance(body, dict) and body.get("stream"))
        if api == "ollama" and chat and isinstance(body, dict) and "stream" not in body:
            stream = True  # Ollama streams unless told otherwise
        request = FakeRequest(
            method=method,
            path=path,
            api=api,
            headers=headers,
            body=body,
            messages=messages,
            model=body.get("model") if isinstance(body, dict) else None,
            stream=stream,
        )
        release = fake.release_event
        try:
            key = fake.key_for(request)
        except Exception as exc:  # a test's key function failed: say so in the API's shape
            entry = fake.record(method, path, api, headers, body, key=path, outcome="key_fn_error")
            fake.finish_record(entry, 500)
            self._send_bytes(500, wire.error_body(api, 500, f"key function failed: {exc!r}"))
            return
        action = fake.next_action(key)
        record = fake.record(method, path, api, headers, body, key=key, outcome=action.label)
        status = self._perform(request, action, release)
        fake.finish_record(record, status)

    def _auth_failure(self, api: Api, headers: Mapping[str, str]) -> RequestRejected | None:
        expected = self.server.fake.api_key
        if api == "anthropic":
            got = headers.get("x-api-key")
            if not got:
                return RequestRejected(401, "x-api-key header is required")
            if expected is not None and got != expected:
                return RequestRejected(401, f"invalid x-api-key: {got}")
            if not headers.get("anthropic-version"):
                return RequestRejected(400, "anthropic-version header is required")
            return None
        if api == "openai" and expected is not None:
            got = headers.get("authorization", "")
            if got != f"Bearer {expected}":
                shown = got.removeprefix("Bearer ") or "(none)"
                return RequestRejected(401, f"Incorrect API key provided: {shown}")
        return None

    # -- actions ------------------------------------------------------------------

    def _perform(self, req: FakeRequest, action: Action, release: threading.Event) -> int:
        fake = self.server.fake
        kind = action.kind
        if kind == "delay":
            self._wait(release, action.seconds or 0.0)
        elif kind == "hang":
            self._wait(release, None)
        elif kind == "reset" and (not action.after or not req.stream):
            self._rst()
            return 0
        elif kind == "status":
            code = action.status or 500
            extra = {}
            if action.retry_after is not None:
                extra["Retry-After"] = f"{action.retry_after:g}"
            message = f"fake {code} (scripted)"
            self._send_bytes(code, wire.error_body(req.api, code, message), extra=extra)
            return code
        if kind == "malformed" and not req.stream:
            self._send_bytes(200, b'{"choices": [{"message": ')
            return 200
        if req.path not in CHAT_ROUTES:
            return self._models(req, action, release)
        try:
            if kind == "text" and action.text is not None:
                text = action.text
            else:
                text = fake.reply_for(req)
        except Exception as exc:  # a test's reply function failed: say so in the API's shape
            body = wire.error_body(req.api, 500, f"reply function failed: {exc!r}")
            self._send_bytes(500, body)
            return 500
        model = req.model or fake.models[0]
        prompt = prompt_tokens(req.messages)
        completion = count_tokens(text)
        seq = fake.next_seq()
        if not req.stream:
            body = wire.completion_body(
                req.api,
                model=model,
                text=text,
                prompt_tokens=prompt,
                completion_tokens=completion,
                seq=seq,
            )
            if kind in ("chunked", "stall_after"):
                self._chunked_body(body, action, release)
            else:
                self._send_bytes(200, body)
            return 200
        include_usage = bool(
            isinstance(req.body, dict)
            and isinstance(req.body.get("stream_options"), dict)
            and req.body["stream_options"].get("include_usage")
        )
        frames = wire.stream_frames(
            req.api,
            model=model,
            pieces=split_pieces(text, per_char=kind == "chunked"),
            prompt_tokens=prompt,
            completion_tokens=completion,
            seq=seq,
            include_usage=include_usage or req.api != "openai",
        )
        self._stream(frames, action, release, req.api)
        return 200

    def _chunked_body(self, body: bytes, action: Action, release: threading.Event) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        if action.kind == "stall_after":
            self._chunk(body[: action.after or 0])
            self._wait(release, None)
        for i in range(0, len(body), 8):
            self._chunk(body[i : i + 8])
        self._end_chunked()

    def _send_frame(self, frame: bytes, split: bool) -> None:
        if split and len(frame) > 1:
            mid = len(frame) // 2
            self._chunk(frame[:mid])
            self._chunk(frame[mid:])
        else:
            self._chunk(frame)

    def _stream(
        self, frames: wire.StreamFrames, action: Action, release: threading.Event, api: Api
    ) -> None:
        split = action.kind == "chunked"
        self._start_chunked(frames.content_type)
        for f in frames.prelude:
            self._send_frame(f, split)
        if action.kind == "malformed":
            self._chunk(wire.malformed_frame(api))
            self._end_chunked()
            return
        cut: int | None = None
        if action.kind in ("stall_after", "reset") and action.after is not None:
            cut = min(action.after, len(frames.pieces))
        for i in range(len(frames.pieces) + 1):
            if i == cut:
                if action.kind == "stall_after":
                    self._wait(release, None)
                self._rst()
                raise _Abort
            if i == len(frames.pieces):
                break
            self._send_frame(frames.pieces[i], split)
        for f in frames.coda:
            self._send_frame(f, split)
        self._end_chunked()

    def _models(self, req: FakeRequest, action: Action, release: threading.Event) -> int:
        fake = self.server.fake
        if action.kind == "malformed":
            self._send_bytes(200, b'{"data": [')
            return 200
        body = wire.models_body(req.api, fake.models)
        if action.kind in ("chunked", "stall_after"):
            self._chunked_body(body, action, release)
        else:
            self._send_bytes(200, body)
        return 200
