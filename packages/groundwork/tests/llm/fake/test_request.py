import pytest
from groundwork.llm.fake.request import RequestRejected, mask_headers, parse_messages, text_content
from groundwork.llm.types import Message


def test_mask_headers() -> None:
    masked = mask_headers(
        {
            "Authorization": "Bearer sk-abcdefghijklmnop1234",
            "X-Api-Key": "sk-ant-abcdefghijklmnopWXYZ",
            "X-Session-Token": "tok",
            "Content-Type": "application/json",
        }
    )
    assert masked == {
        "authorization": "Bearer sk-…1234",
        "x-api-key": "sk-…WXYZ",
        "x-session-token": "…",
        "content-type": "application/json",
    }


def test_parse_messages_anthropic_system_first() -> None:
    body = {
        "model": "c",
        "max_tokens": 5,
        "system": [{"type": "text", "text": "sys"}],
        "messages": [{"role": "user", "content": "u"}],
    }
    assert parse_messages("anthropic", body) == (Message.system("sys"), Message.user("u"))
    with pytest.raises(RequestRejected, match="unsupported role"):
        parse_messages("anthropic", {**body, "messages": [{"role": "system", "content": "s"}]})


def test_text_content_forms() -> None:
    assert text_content(None) == ""
    assert text_content([{"type": "image"}, {"type": "text", "text": "t"}]) == "t"
    with pytest.raises(RequestRejected) as exc:
        text_content(3)
    assert exc.value.status == 400
