"""``make_provider(ProviderSpec, env)``: the one place a provider is built from settings.

meld (``providers/<name>.toml``) and spiderweb (``provider.*``) map their own
config onto ``ProviderSpec``. Keys come from ``api_key``, else from the
``env`` mapping the caller passes (``api_key_env`` or the type's default
variable); groundwork never reads ``os.environ`` itself.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal, TypeAlias

from groundwork.llm.base import Provider
from groundwork.llm.errors import LLMConfigError, MissingAPIKey
from groundwork.llm.faults import parse_script
from groundwork.llm.mock import MockProvider
from groundwork.llm.types import Options, Timeouts

if TYPE_CHECKING:  # the HTTP providers import httpx (~0.4 s): only when one is built
    import httpx

ProviderType: TypeAlias = Literal["openai", "openai-compatible", "anthropic", "ollama", "mock"]
PROVIDER_TYPES: tuple[str, ...] = ("openai", "openai-compatible", "anthropic", "ollama", "mock")

#: The variable read for a type's key when ``api_key_env`` is not given.
DEFAULT_KEY_ENV: dict[str, str] = {"openai": "OPENAI_API_KEY", "anthropic": "ANTHROPIC_API_KEY"}
_KEY_REQUIRED = frozenset({"openai", "anthropic"})


@dataclass(frozen=True, slots=True)
class ProviderSpec:
    """Everything needed to build a provider; ``api_key`` is kept out of ``repr``.

    ``latency_s`` and ``script`` (fault string, e.g. ``"429x2,ok"``) apply to
    ``mock`` only.
    """

    type: str
    model: str | None = None
    base_url: str | None = None
    api_key: str | None = field(default=None, repr=False)
    api_key_env: str | None = None
    timeouts: Timeouts = field(default_factory=Timeouts)
    options: Options = field(default_factory=Options)
    name: str | None = None
    latency_s: float = 0.0
    script: str | None = None

    @property
    def label(self) -> str:
        return self.name or self.type


def resolve_api_key(spec: ProviderSpec, env: Mapping[str, str] | None = None) -> str | None:
    """The key to send, or ``None``; raises ``MissingAPIKey`` naming the variable to set.

    A key is required for ``openai`` and ``anthropic``; for the others it is
    optional, unless ``api_key_env`` names a variable, which must then be set.
    """
    if spec.api_key:
        return spec.api_key
    var = spec.api_key_env or DEFAULT_KEY_ENV.get(spec.type)
    if var is None:
        return None
    value = (env or {}).get(var)
    if value:
        return value
    if spec.type in _KEY_REQUIRED or spec.api_key_env:
        raise MissingAPIKey(var, spec.label)
    return None


#: Requests a config-built mock keeps (``serve --provider mock``): nothing reads more. The
#: default 1,000 kept ~65,000 context messages alive in a spiderweb server; every young GC
#: generation walked them (a 0.5 ms pause every ~300 turns in P2).
CONFIGURED_MOCK_KEEP_CALLS = 16


def make_provider(
    spec: ProviderSpec,
    env: Mapping[str, str] | None = None,
    *,
    transport: httpx.AsyncBaseTransport | None = None,
) -> Provider:
    """Build the provider ``spec`` describes; bad specs raise ``LLMConfigError``."""
    kind = spec.type
    if kind not in PROVIDER_TYPES:
        raise LLMConfigError(
            f"unknown provider type {kind!r}; use one of {', '.join(PROVIDER_TYPES)}"
        )
    if kind == "mock":
        try:
            script = parse_script(spec.script) if spec.script else ()
        except ValueError as exc:
            raise LLMConfigError(f"provider {spec.label!r}: bad mock script: {exc}") from None
        return MockProvider(
            name=spec.label,
            model=spec.model or "mock",
            latency_s=spec.latency_s,
            timeouts=spec.timeouts,
            options=spec.options,
            script=script,
            keep_calls=CONFIGURED_MOCK_KEEP_CALLS,
        )
    if not spec.model:
        raise LLMConfigError(f"provider {spec.label!r} needs a model")
    if kind == "openai-compatible" and not spec.base_url:
        raise LLMConfigError(f"provider {spec.label!r} (openai-compatible) needs a base_url")
    key = resolve_api_key(spec, env)
    if kind in ("openai", "openai-compatible"):
        from groundwork.llm.openai import OpenAIProvider

        return OpenAIProvider(
            model=spec.model,
            base_url=spec.base_url,
            api_key=key,
            name=spec.label,
            type=kind,
            timeouts=spec.timeouts,
            options=spec.options,
            transport=transport,
        )
    if kind == "anthropic":
        from groundwork.llm.anthropic import AnthropicProvider

        return AnthropicProvider(
            model=spec.model,
            base_url=spec.base_url,
            api_key=key,
            name=spec.label,
            timeouts=spec.timeouts,
            options=spec.options,
            transport=transport,
        )
    from groundwork.llm.ollama import OllamaProvider

    return OllamaProvider(
        model=spec.model,
        base_url=spec.base_url,
        api_key=key,
        name=spec.label,
        timeouts=spec.timeouts,
        options=spec.options,
        transport=transport,
    )
