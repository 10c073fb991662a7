import pytest
from groundwork.llm import faults
from groundwork.llm.faults import Action, FaultRate, Script, coerce_steps, parse_script
from hypothesis import given
from hypothesis import strategies as st


def test_string_form() -> None:
    assert parse_script("429x2,ok") == [faults.status(429), faults.status(429), faults.ok()]
    assert parse_script("429×2, ok") == parse_script("429x2,ok")
    assert parse_script("status(429, 1.5)x2,500") == [
        faults.status(429, 1.5),
        faults.status(429, 1.5),
        faults.status(500),
    ]
    assert parse_script("429(2)") == [faults.status(429, 2)]
    assert parse_script("hang,delay(0.5),reset,reset(3),malformed,chunked,stall_after(2)") == [
        faults.hang(),
        faults.delay(0.5),
        faults.reset(),
        faults.reset(3),
        faults.malformed(),
        faults.chunked(),
        faults.stall_after(2),
    ]
    assert parse_script('text("a, b")') == [faults.text("a, b")]
    assert parse_script("text(plain words)") == [faults.text("plain words")]
    assert parse_script("fault_rate(0.2, status(429,1), 7)") == [
        faults.fault_rate(0.2, faults.status(429, 1), 7)
    ]
    assert parse_script("  ") == []


@pytest.mark.parametrize(
    "bad", ["nope", "429x2,", "status()", "delay(x)", "(", "ok(1)", "999", "fault_rate(1)"]
)
def test_bad_scripts_raise(bad: str) -> None:
    with pytest.raises(ValueError):
        parse_script(bad)


actions = st.one_of(
    st.just(faults.ok()),
    st.just(faults.hang()),
    st.just(faults.malformed()),
    st.just(faults.chunked()),
    st.text(min_size=0, max_size=20).map(faults.text),
    st.builds(
        faults.status,
        st.integers(100, 599),
        st.one_of(st.none(), st.integers(0, 100).map(float), st.sampled_from([0.05, 2.5])),
    ),
    st.sampled_from([0.0, 0.25, 3.0]).map(faults.delay),
    st.integers(0, 9).map(faults.reset),
    st.integers(0, 9).map(faults.stall_after),
)


@given(st.lists(actions, max_size=8))
def test_string_form_round_trips(steps: list[Action]) -> None:
    rendered = ",".join(str(s) for s in steps)
    assert parse_script(rendered) == steps


def test_script_queue_then_ok() -> None:
    s = Script("500,ok")
    assert bool(s)
    assert s.next() == faults.status(500)
    assert s.next() == faults.ok()
    assert s.next() is None
    s.extend(faults.hang())
    assert s.next() == faults.hang()
    s.extend([faults.ok(), "404"])
    s.clear()
    assert s.next() is None


def test_fault_rate_is_seeded_and_endless() -> None:
    def draw(seed: int) -> list[str]:
        s = Script(faults.fault_rate(0.3, "429", seed))
        return [a.label for a in (s.next() for _ in range(200)) if a is not None]

    first = draw(7)
    assert first == draw(7)
    assert len(first) == 200
    assert 20 < first.count("status:429") < 100
    assert set(first) == {"ok", "status:429"}
    with pytest.raises(ValueError):
        FaultRate(1.5, faults.ok())


def test_coerce_mixed_and_labels() -> None:
    steps = coerce_steps(["429", faults.ok(), "stall_after(2)"])
    assert [s.label for s in steps if isinstance(s, Action)] == [
        "status:429",
        "ok",
        "stall_after:2",
    ]
    assert str(faults.fault_rate(0.5, "ok", 1)) == "fault_rate(0.5,ok,1)"


@pytest.mark.parametrize(
    "make",
    [
        lambda: faults.status(42),
        lambda: faults.delay(-1),
        lambda: faults.reset(-1),
        lambda: faults.stall_after(-1),
    ],
)
def test_factory_validation(make: object) -> None:
    with pytest.raises(ValueError):
        make()  # type: ignore[operator]
