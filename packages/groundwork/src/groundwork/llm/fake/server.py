"""``FakeLLMServer``: a real HTTP server on 127.0.0.1 speaking the OpenAI, Anthropic and
Ollama chat APIs, with scripted faults, for every package's tests.

It runs ``ThreadingHTTPServer`` in a daemon thread (like httpx's ``TestServer``);
each request takes the next action from its key's script (``key_fn``, default
the URL path), else from the global script, else ``ok``. Every API request is
recorded with masked headers; ``/_fake/stats`` serves the records to other
processes. ``stop()`` releases hanging handlers, cuts open connections and joins
every thread, so no test leaks a socket or a thread.

A 401 for a wrong key echoes the key it received, as careless servers do, so
tests can prove that clients scrub keys out of error messages.
"""

from __future__ import annotations

import socket
import threading
from collections import Counter
from collections.abc import Iterable, Mapping
from typing import Any

from groundwork.llm.fake.handler import FakeHTTPServer
from groundwork.llm.fake.request import FakeRequest, KeyFn, ReplyFn, mask_headers
from groundwork.llm.faults import Action, Actions, Script, ok
from groundwork.llm.mock import deterministic_reply

__all__ = ["FakeLLMServer", "FakeRequest", "KeyFn", "ReplyFn", "mask_headers"]


class FakeLLMServer:
    """Start with ``start()`` or ``with FakeLLMServer() as fake:``; stop with ``stop()``."""

    def __init__(
        self,
        reply: ReplyFn | None = None,
        key_fn: KeyFn | None = None,
        api_key: str | None = None,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        models: Iterable[str] = ("fake-model",),
    ) -> None:
        self.reply = reply
        self.key_fn = key_fn
        self.api_key = api_key
        self.models: tuple[str, ...] = tuple(models) or ("fake-model",)
        self._host = host
        self._port = port
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        self._records: list[dict[str, Any]] = []
        self._global = Script()
        self._by_key: dict[str, Script] = {}
        self._release = threading.Event()
        self._seq = 0
        self._httpd: FakeHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.stopping = False
        #: Tracebacks of handler crashes (bugs, not client disconnects); tests may assert empty.
        self.errors: list[str] = []

    # -- lifecycle ------------------------------------------------------------------

    def start(self) -> FakeLLMServer:
        if self._httpd is not None:
            return self
        self.stopping = False
        self._httpd = FakeHTTPServer((self._host, self._port), self)
        self._thread = threading.Thread(
            target=self._httpd.serve_forever,
            kwargs={"poll_interval": 0.01},  # stop() waits at most one poll
            name=f"fake-llm-{self.port}",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Release hangs, cut connections, join every thread. Safe to call twice."""
        httpd = self._httpd
        if httpd is None:
            return
        self.stopping = True
        with self._lock:
            self._release.set()
        httpd.shutdown()
        with httpd.track_lock:
            sockets = list(httpd.open_sockets)
            threads = list(httpd.handler_threads)
        for s in sockets:
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        for t in threads:
            t.join(timeout=5)
        self._httpd = None
        self._thread = None

    def __enter__(self) -> FakeLLMServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        if self._httpd is None:
            raise RuntimeError("FakeLLMServer is not running; call start()")
        return int(self._httpd.server_address[1])

    @property
    def url(self) -> str:
        return f"http://{self._host}:{self.port}"

    @property
    def openai_base_url(self) -> str:
        return f"{self.url}/v1"

    @property
    def anthropic_base_url(self) -> str:
        return self.url

    @property
    def ollama_base_url(self) -> str:
        return self.url

    # -- scripting ------------------------------------------------------------------

    def script(self, actions: Actions, key: str | None = None) -> None:
        """Queue actions for the next calls (of ``key`` only, when given)."""
        with self._lock:
            target = self._global if key is None else self._by_key.setdefault(key, Script())
        target.extend(actions)

    def reset(self) -> None:
        """Forget records and scripts, and release any hanging request."""
        with self._lock:
            self._records.clear()
            self._global.clear()
            self._by_key.clear()
            self._release.set()
            self._release = threading.Event()
            self._changed.notify_all()

    def key_for(self, request: FakeRequest) -> str:
        fn = self.key_fn
        return fn(request) if fn is not None else request.path

    def next_action(self, key: str) -> Action:
        with self._lock:
            per_key = self._by_key.get(key)
        action = per_key.next() if per_key is not None else None
        if action is None:
            action = self._global.next()
        return action or ok()

    def reply_for(self, request: FakeRequest) -> str:
        fn = self.reply
        return fn(request) if fn is not None else deterministic_reply(request.messages)

    @property
    def release_event(self) -> threading.Event:
        with self._lock:
            return self._release

    def next_seq(self) -> int:
        with self._lock:
            self._seq += 1
            return self._seq

    # -- records --------------------------------------------------------------------

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
    ) -> dict[str, Any]:
        entry: dict[str, Any] = {
            "method": method,
            "path": path,
            "api": api,
            "headers": mask_headers(headers),
            "body": body,
            "key": key,
            "outcome": outcome,
            "status": None,
        }
        with self._lock:
            entry["seq"] = len(self._records)
            self._records.append(entry)
            self._changed.notify_all()
        return entry

    def finish_record(self, entry: dict[str, Any], status: int) -> None:
        """Set the HTTP status sent (0: connection reset, no response)."""
        with self._lock:
            entry["status"] = status

    @property
    def requests(self) -> list[dict[str, Any]]:
        """Copies of the records, oldest first."""
        with self._lock:
            return [dict(r) for r in self._records]

    def count(self, key: str | None = None) -> int:
        """Requests seen (for ``key``, when given)."""
        with self._lock:
            if key is None:
                return len(self._records)
            return sum(1 for r in self._records if r["key"] == key)

    def wait_for_requests(self, n: int, timeout_s: float = 5.0) -> bool:
        """Block until ``n`` requests have arrived (e.g. a hanging one); ``False`` on timeout."""
        with self._changed:
            return self._changed.wait_for(lambda: len(self._records) >= n, timeout_s)

    def stats(self) -> dict[str, Any]:
        """``{total, byKey, byPath, requests}``, also served at ``GET /_fake/stats``."""
        with self._lock:
            records = [dict(r) for r in self._records]
        return {
            "total": len(records),
            "byKey": dict(Counter(r["key"] for r in records)),
            "byPath": dict(Counter(r["path"] for r in records)),
            "requests": records,
        }
