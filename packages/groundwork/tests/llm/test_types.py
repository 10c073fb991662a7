import pytest
from groundwork.llm.types import Message, Options, Timeouts, Usage, as_messages


def test_message_role_checked() -> None:
    assert Message.user("x") == Message("user", "x")
    assert Message.system("s").role == "system"
    assert Message.assistant("a").role == "assistant"
    with pytest.raises(ValueError, match="role must be one of"):
        Message("robot", "x")  # type: ignore[arg-type]


def test_options_merged_keeps_unset_fields() -> None:
    base = Options(temperature=0.2, max_tokens=100)
    merged = base.merged(Options(max_tokens=5, stop=("\n",)))
    assert merged == Options(temperature=0.2, max_tokens=5, stop=("\n",))
    assert base.merged(None) is base


def test_usage_total() -> None:
    assert Usage(3, 4).total_tokens == 7
    assert Usage().total_tokens == 0


def test_timeouts_defaults_and_validation() -> None:
    t = Timeouts()
    assert (t.connect_s, t.total_s, t.first_token_s, t.idle_s) == (10, 120, 30, 30)
    with pytest.raises(ValueError, match="idle_s"):
        Timeouts(idle_s=0)


def test_as_messages_rejects_empty_and_wrong_types() -> None:
    with pytest.raises(ValueError):
        as_messages([])
    with pytest.raises(TypeError):
        as_messages([{"role": "user", "content": "x"}])  # type: ignore[list-item]
    assert as_messages([Message.user("a")]) == (Message.user("a"),)
