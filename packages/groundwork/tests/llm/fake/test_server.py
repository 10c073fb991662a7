"""FakeLLMServer over plain HTTP (httpx sync client): routes, shapes, scripts, records."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from groundwork.llm import faults
from groundwork.llm.fake import FakeLLMServer, FakeRequest
from groundwork.llm.mock import deterministic_reply
from groundwork.llm.types import Message

pytestmark = pytest.mark.timeout(30)

CHAT = {"model": "m", "messages": [{"role": "user", "content": "hello"}]}
ANTHROPIC_HEADERS = {"x-api-key": "sk-ant-0123456789abcdefXYZW", "anthropic-version": "2023-06-01"}


@pytest.fixture
def client(fake_llm: FakeLLMServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=fake_llm.url, timeout=5, trust_env=False) as c:
        yield c


def chat(client: httpx.Client, body: dict[str, Any] | None = None, **kw: Any) -> httpx.Response:
    return client.post("/v1/chat/completions", json=body or CHAT, **kw)


def test_base_urls(fake_llm: FakeLLMServer) -> None:
    assert fake_llm.url.startswith("http://127.0.0.1:")
    assert fake_llm.openai_base_url == fake_llm.url + "/v1"
    assert fake_llm.anthropic_base_url == fake_llm.ollama_base_url == fake_llm.url


def test_openai_json_shape(client: httpx.Client) -> None:
    data = chat(client).json()
    assert data["object"] == "chat.completion"
    assert data["choices"][0]["message"] == {
        "role": "assistant",
        "content": deterministic_reply([Message.user("hello")]),
    }
    assert data["usage"]["total_tokens"] == (
        data["usage"]["prompt_tokens"] + data["usage"]["completion_tokens"]
    )


def test_openai_sse_has_keepalive_usage_chunk_and_done(client: httpx.Client) -> None:
    body = {**CHAT, "stream": True, "stream_options": {"include_usage": True}}
    resp = chat(client, body)
    assert resp.headers["content-type"] == "text/event-stream"
    text = resp.text
    assert text.startswith(": keep-alive\n\n")
    assert '"choices":[],"usage"' in text
    assert text.endswith("data: [DONE]\n\n")
    plain = chat(client, {**CHAT, "stream": True}).text
    assert '"choices":[]' not in plain  # usage-only chunk only when asked for


def test_anthropic_shapes_and_header_checks(client: httpx.Client) -> None:
    body = {**CHAT, "max_tokens": 10, "system": "sys"}
    data = client.post("/v1/messages", json=body, headers=ANTHROPIC_HEADERS).json()
    assert data["type"] == "message"
    assert data["content"][0]["text"] == deterministic_reply(
        [Message.system("sys"), Message.user("hello")]
    )
    stream = client.post("/v1/messages", json={**body, "stream": True}, headers=ANTHROPIC_HEADERS)
    assert "event: message_stop" in stream.text and "event: ping" in stream.text
    no_key = client.post("/v1/messages", json=body, headers={"anthropic-version": "2023-06-01"})
    assert no_key.status_code == 401
    assert no_key.json()["error"]["type"] == "authentication_error"
    no_version = client.post("/v1/messages", json=body, headers={"x-api-key": "k"})
    assert no_version.status_code == 400
    assert "anthropic-version" in no_version.json()["error"]["message"]
    no_max = client.post("/v1/messages", json=CHAT, headers=ANTHROPIC_HEADERS)
    assert no_max.status_code == 400 and no_max.json()["type"] == "error"


def test_ollama_shapes_and_default_streaming(client: httpx.Client) -> None:
    data = client.post("/api/chat", json={**CHAT, "stream": False}).json()
    assert data["done"] is True and data["message"]["role"] == "assistant"
    streamed = client.post("/api/chat", json=CHAT)  # Ollama streams unless told otherwise
    assert streamed.headers["content-type"] == "application/x-ndjson"
    lines = streamed.text.strip().split("\n")
    assert len(lines) > 2 and '"done":true' in lines[-1]
    tags = client.get("/api/tags").json()
    assert [m["name"] for m in tags["models"]] == ["fake-model"]


def test_model_lists(client: httpx.Client) -> None:
    assert client.get("/v1/models").json()["object"] == "list"
    anth = client.get("/v1/models", headers=ANTHROPIC_HEADERS).json()
    assert anth["data"][0]["type"] == "model" and anth["has_more"] is False


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"{not json", "not valid JSON"),
        (b'{"messages": []}', "model is required"),
        (b'{"model": "m", "messages": []}', "messages must be"),
        (b'{"model": "m", "messages": [{"content": "x"}]}', "role"),
        (b'{"model": "m", "messages": [{"role": "tool", "content": "x"}]}', "unsupported role"),
        (b'{"model": "m", "messages": [{"role": "user", "content": 5}]}', "content"),
        (b"[1]", "JSON object"),
    ],
)
def test_bad_requests_get_openai_shaped_400(
    client: httpx.Client, fake_llm: FakeLLMServer, body: bytes, message: str
) -> None:
    resp = client.post("/v1/chat/completions", content=body)
    assert resp.status_code == 400
    assert message in resp.json()["error"]["message"]
    assert fake_llm.requests[-1]["outcome"] == "rejected"
    assert fake_llm.requests[-1]["status"] == 400


def test_content_parts_and_developer_role(client: httpx.Client) -> None:
    body = {
        "model": "m",
        "messages": [
            {"role": "developer", "content": "d"},
            {"role": "user", "content": [{"type": "text", "text": "hel"}, {"text": "lo"}]},
        ],
    }
    text = chat(client, body).json()["choices"][0]["message"]["content"]
    assert text == deterministic_reply([Message.system("d"), Message.user("hello")])


def test_unknown_routes(client: httpx.Client, fake_llm: FakeLLMServer) -> None:
    assert client.get("/nope").status_code == 404
    assert client.delete("/v1/chat/completions").status_code == 404
    assert client.put("/_fake/stats").status_code == 404
    assert fake_llm.count() == 0  # only API calls are recorded


def test_script_string_form_and_counts(client: httpx.Client, fake_llm: FakeLLMServer) -> None:
    fake_llm.script("429x2,ok")
    codes = [chat(client).status_code for _ in range(4)]
    assert codes == [429, 429, 200, 200]
    assert fake_llm.count("/v1/chat/completions") == 4
    assert [r["outcome"] for r in fake_llm.requests] == ["status:429", "status:429", "ok", "ok"]


def test_status_retry_after_header_and_shape(client: httpx.Client, fake_llm: FakeLLMServer) -> None:
    fake_llm.script([faults.status(429, 0.5), faults.status(503, 2)])
    first = chat(client)
    assert first.headers["retry-after"] == "0.5"
    assert first.json()["error"]["type"] == "rate_limit_exceeded"
    anth = client.post(
        "/v1/messages", json={**CHAT, "max_tokens": 5}, headers=ANTHROPIC_HEADERS
    ).json()
    assert anth == {
        "type": "error",
        "error": {"type": "api_error", "message": "fake 503 (scripted)"},
    }
    fake_llm.script("500")
    assert client.post("/api/chat", json=CHAT).json() == {"error": "fake 500 (scripted)"}


def test_per_key_scripts_with_key_fn(client: httpx.Client, fake_llm: FakeLLMServer) -> None:
    def by_file(req: FakeRequest) -> str:
        return req.messages[-1].content

    fake_llm.key_fn = by_file
    fake_llm.script("401", key="a.py")
    fake_llm.script("500")

    def ask(content: str) -> int:
        body = {"model": "m", "messages": [{"role": "user", "content": content}]}
        return chat(client, body).status_code

    assert ask("a.py") == 401  # its own script first
    assert ask("b.py") == 500  # then the global one
    assert ask("a.py") == 200
    assert (fake_llm.count("a.py"), fake_llm.count("b.py")) == (2, 1)
    stats = fake_llm.stats()
    assert stats["byKey"] == {"a.py": 2, "b.py": 1}
    assert stats["byPath"] == {"/v1/chat/completions": 3}


def test_fault_rate_is_reproducible(fake_llm: FakeLLMServer, client: httpx.Client) -> None:
    def run() -> list[int]:
        fake_llm.reset()
        fake_llm.script(faults.fault_rate(0.5, faults.status(429), seed=3))
        return [chat(client).status_code for _ in range(12)]

    first = run()
    assert first == run()
    assert set(first) == {200, 429}


def test_stats_and_reset_over_http(client: httpx.Client, fake_llm: FakeLLMServer) -> None:
    chat(client, headers={"Authorization": "Bearer sk-abcdefghijklmnop1234"})
    stats = client.get("/_fake/stats").json()
    assert stats["total"] == 1
    assert stats["byPath"] == {"/v1/chat/completions": 1}
    req = stats["requests"][0]
    assert req["headers"]["authorization"] == "Bearer sk-…1234"
    assert req["body"] == CHAT
    assert (req["key"], req["outcome"], req["status"], req["api"]) == (
        "/v1/chat/completions",
        "ok",
        200,
        "openai",
    )
    assert client.post("/_fake/reset").json() == {"ok": True}
    assert client.get("/_fake/stats").json()["total"] == 0


def test_script_over_http(client: httpx.Client) -> None:
    assert client.post("/_fake/script", json={"actions": "404,ok"}).status_code == 200
    assert chat(client).status_code == 404
    assert chat(client).status_code == 200
    client.post("/_fake/script", json={"actions": "403", "key": "/api/chat"})
    assert client.post("/api/chat", json=CHAT).status_code == 403
    bad = client.post("/_fake/script", json={"actions": "explode"})
    assert bad.status_code == 400 and "bad script" in bad.json()["error"]["message"]


def test_api_key_enforced_and_echoed(fake_llm: FakeLLMServer) -> None:
    fake_llm.api_key = "sk-right-0123456789abcd"
    with httpx.Client(base_url=fake_llm.url, trust_env=False) as c:
        assert chat(c).status_code == 401
        wrong = chat(c, headers={"Authorization": "Bearer sk-wrong-xyz"})
        assert "sk-wrong-xyz" in wrong.json()["error"]["message"]
        assert (
            chat(c, headers={"Authorization": "Bearer sk-right-0123456789abcd"}).status_code == 200
        )
        anth = c.post(
            "/v1/messages",
            json={**CHAT, "max_tokens": 1},
            headers={"x-api-key": "nope", "anthropic-version": "2023-06-01"},
        )
        assert anth.status_code == 401
    assert "sk-right-0123456789abcd" not in str(fake_llm.requests)


def test_reply_function_errors_become_500(client: httpx.Client, fake_llm: FakeLLMServer) -> None:
    def broken(req: FakeRequest) -> str:
        raise RuntimeError("bad rule")

    fake_llm.reply = broken
    resp = chat(client)
    assert resp.status_code == 500
    assert "bad rule" in resp.json()["error"]["message"]


def test_hang_is_released_by_reset(fake_llm: FakeLLMServer) -> None:
    fake_llm.script("hang")
    result: list[BaseException | int] = []

    def call() -> None:
        with httpx.Client(base_url=fake_llm.url, timeout=10, trust_env=False) as c:
            try:
                result.append(chat(c).status_code)
            except httpx.HTTPError as exc:
                result.append(exc)

    t = threading.Thread(target=call)
    t.start()
    assert fake_llm.wait_for_requests(1)
    assert fake_llm.requests[0]["outcome"] == "hang"
    fake_llm.reset()
    t.join(5)
    assert not t.is_alive()
    assert isinstance(result[0], httpx.TransportError)  # dropped without a response


def test_stop_releases_hanging_and_idle_connections() -> None:
    fake = FakeLLMServer().start()
    fake.script("hang,delay(30)", key="/v1/chat/completions")
    errors: list[BaseException] = []

    def call() -> None:
        with httpx.Client(base_url=fake.url, timeout=10, trust_env=False) as c:
            try:
                chat(c)
            except httpx.HTTPError as exc:
                errors.append(exc)

    threads = [threading.Thread(target=call) for _ in range(2)]
    for t in threads:
        t.start()
    idle = httpx.Client(base_url=fake.url, trust_env=False)
    assert idle.get("/v1/models").status_code == 200  # leaves a keep-alive connection open
    assert fake.wait_for_requests(3)
    fake.stop()
    for t in threads:
        t.join(5)
        assert not t.is_alive()
    assert len(errors) == 2
    idle.close()
    fake.stop()  # idempotent
    with pytest.raises(RuntimeError, match="not running"):
        _ = fake.port


def test_wait_for_requests_times_out(fake_llm: FakeLLMServer) -> None:
    assert fake_llm.wait_for_requests(1, timeout_s=0.01) is False


def test_context_manager_and_models_option() -> None:
    with FakeLLMServer(models=["a", "b"]) as fake:
        assert fake.start() is fake
        with httpx.Client(base_url=fake.url, trust_env=False) as c:
            assert [m["id"] for m in c.get("/v1/models").json()["data"]] == ["a", "b"]
            fake.script("stall_after(3)")
            fake.script("chunked")


def test_key_fn_errors_become_500(client: httpx.Client, fake_llm: FakeLLMServer) -> None:
    def broken(req: FakeRequest) -> str:
        raise KeyError("no path")

    fake_llm.key_fn = broken
    resp = chat(client)
    assert resp.status_code == 500
    assert "key function failed" in resp.json()["error"]["message"]
    assert fake_llm.requests[-1]["outcome"] == "key_fn_error"


def test_bad_content_length(fake_llm: FakeLLMServer) -> None:
    import socket

    with socket.create_connection(("127.0.0.1", fake_llm.port), timeout=5) as s:
        s.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Length: zz\r\n\r\n")
        assert s.recv(100).startswith(b"HTTP/1.1 400")


def test_handler_crash_is_recorded_not_printed(fake_llm: FakeLLMServer) -> None:
    def not_text(req: FakeRequest) -> str:
        return 42  # type: ignore[return-value]  # a buggy reply rule

    fake_llm.reply = not_text
    with (
        httpx.Client(base_url=fake_llm.url, timeout=5, trust_env=False) as c,
        pytest.raises(httpx.TransportError),
    ):
        chat(c)
    assert len(fake_llm.errors) == 1 and "TypeError" in fake_llm.errors[0]
    fake_llm.errors.clear()
