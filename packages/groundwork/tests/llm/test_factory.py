import pytest
from groundwork.llm.anthropic import AnthropicProvider
from groundwork.llm.errors import LLMConfigError, MissingAPIKey, RateLimited
from groundwork.llm.factory import (
    CONFIGURED_MOCK_KEEP_CALLS,
    ProviderSpec,
    make_provider,
    resolve_api_key,
)
from groundwork.llm.mock import MockProvider
from groundwork.llm.ollama import OllamaProvider
from groundwork.llm.openai import OpenAIProvider
from groundwork.llm.types import Message

KEY = "sk-test-0123456789abcdefWXYZ"


async def test_openai_needs_key_from_env() -> None:
    with pytest.raises(MissingAPIKey, match="OPENAI_API_KEY"):
        make_provider(ProviderSpec(type="openai", model="gpt-x"), env={})
    p = make_provider(ProviderSpec(type="openai", model="gpt-x"), env={"OPENAI_API_KEY": KEY})
    assert isinstance(p, OpenAIProvider)
    assert p.base_url == "https://api.openai.com/v1"
    assert (p.name, p.type, p.model) == ("openai", "openai", "gpt-x")
    assert KEY not in repr(p)
    await p.aclose()


async def test_anthropic_key_and_custom_env_var() -> None:
    with pytest.raises(MissingAPIKey) as exc:
        make_provider(ProviderSpec(type="anthropic", model="claude", name="main"), env={})
    assert str(exc.value) == "provider 'main' needs environment variable ANTHROPIC_API_KEY"
    spec = ProviderSpec(type="anthropic", model="claude", api_key_env="MY_KEY")
    p = make_provider(spec, env={"MY_KEY": KEY})
    assert isinstance(p, AnthropicProvider)
    assert p.base_url == "https://api.anthropic.com"
    await p.aclose()


async def test_openai_compatible_and_ollama_work_without_key() -> None:
    with pytest.raises(LLMConfigError, match="base_url"):
        make_provider(ProviderSpec(type="openai-compatible", model="m"))
    p = make_provider(
        ProviderSpec(type="openai-compatible", model="m", base_url="http://127.0.0.1:9/")
    )
    assert isinstance(p, OpenAIProvider) and p.base_url == "http://127.0.0.1:9/v1"
    assert p.type == "openai-compatible"
    o = make_provider(ProviderSpec(type="ollama", model="llama3"))
    assert isinstance(o, OllamaProvider) and o.base_url == "http://localhost:11434"
    await p.aclose()
    await o.aclose()


def test_named_env_var_must_exist_even_when_optional() -> None:
    spec = ProviderSpec(type="openai-compatible", model="m", base_url="http://x", api_key_env="K")
    with pytest.raises(MissingAPIKey, match="K"):
        resolve_api_key(spec, {})
    assert resolve_api_key(spec, {"K": "v"}) == "v"
    assert resolve_api_key(ProviderSpec(type="ollama"), None) is None
    assert resolve_api_key(ProviderSpec(type="openai", api_key="direct"), {}) == "direct"


def test_spec_repr_hides_key() -> None:
    assert KEY not in repr(ProviderSpec(type="openai", api_key=KEY))


def test_bad_specs() -> None:
    with pytest.raises(LLMConfigError, match="unknown provider type 'gpt'"):
        make_provider(ProviderSpec(type="gpt"))
    with pytest.raises(LLMConfigError, match="needs a model"):
        make_provider(ProviderSpec(type="ollama"))
    with pytest.raises(LLMConfigError, match="bad mock script"):
        make_provider(ProviderSpec(type="mock", script="explode"))


async def test_mock_from_spec() -> None:
    p = make_provider(ProviderSpec(type="mock", name="m", script="429,ok", latency_s=0.0))
    assert isinstance(p, MockProvider) and p.name == "m" and p.model == "mock"
    with pytest.raises(RateLimited):
        await p.complete([Message.user("x")])
    assert (await p.complete([Message.user("x")])).text.startswith("Mock reply")


async def test_configured_mock_keeps_only_the_latest_calls() -> None:
    p = make_provider(ProviderSpec(type="mock"))
    assert isinstance(p, MockProvider)
    for i in range(CONFIGURED_MOCK_KEEP_CALLS + 5):
        await p.complete([Message.user(f"q{i}")])
    assert len(p.calls) == CONFIGURED_MOCK_KEEP_CALLS
    assert p.calls[-1][-1].content == f"q{CONFIGURED_MOCK_KEEP_CALLS + 4}"
