import pytest
from groundwork.llm.base import Completer, Provider
from groundwork.llm.factory import PROVIDER_TYPES, ProviderSpec, make_provider
from groundwork.llm.types import Completion, Message, Options, Usage


@pytest.mark.parametrize("kind", PROVIDER_TYPES)
async def test_every_type_is_a_provider(kind: str) -> None:
    spec = ProviderSpec(type=kind, model="m", base_url="http://127.0.0.1:9", api_key="k" * 16)
    p = make_provider(spec)
    assert isinstance(p, Provider)
    assert isinstance(p, Completer)
    assert p.type == kind and p.model == "m" and p.name == kind
    await p.aclose()


async def test_anything_with_complete_is_a_completer() -> None:
    class Scripted:
        async def complete(
            self, messages: list[Message], options: Options | None = None
        ) -> Completion:
            return Completion("x", "m", Usage(), "stop", 0.0)

    s = Scripted()
    assert isinstance(s, Completer)
    assert not isinstance(s, Provider)
    assert (await s.complete([Message.user("q")])).text == "x"
