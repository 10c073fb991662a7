"""Planner (§8, §17.9): deterministic rule table, LLM validation and fallback."""

from __future__ import annotations

import json

import hypothesis.strategies as st
import pytest
from groundwork.llm import MockProvider
from groundwork.llm.faults import hang, status
from hypothesis import given, settings
from spiderweb.brain.planner import (
    DEFAULT_TASKS,
    InvalidGoal,
    Plan,
    PlannedTask,
    PlanRejected,
    deterministic_plan,
    llm_plan,
    make_plan,
    validate_llm_plan,
)
from spiderweb.brain.settings import PlannerConfig, resolve_mode


def _titles(goal: str) -> list[str]:
    return [t.title for t in deterministic_plan(goal).tasks]


@pytest.mark.parametrize(
    ("goal", "titles"),
    [
        ("a; b\nc and d", ["a", "b", "c and d"]),  # ; or newline wins over " and "
        ("read docs and write code, test", ["read docs", "write code, test"]),
        ("alpha, beta. gamma", ["alpha", "beta. gamma"]),
        ("First. Second! Third? ", ["First", "Second", "Third"]),
        ("just one thing", ["just one thing"]),
        ("- item one\n* item two\n+ item three", ["item one", "item two", "item three"]),
        ("1. one\n2) two\nTask three", ["one", "two", "three"]),
        ("  -- dashes --. ;  ", ["dashes"]),
        ("a;b;c;d;e;f;g", ["a", "b", "c", "d", "e"]),  # at most 5
        ("sand andes", ["sand andes"]),  # " and " needs spaces
    ],
)
def test_split_and_clean(goal: str, titles: list[str]) -> None:
    assert _titles(goal) == titles


def test_defaults_when_nothing_left() -> None:
    assert _titles("...") == list(DEFAULT_TASKS)
    assert _titles(" - ; . ") == list(DEFAULT_TASKS)
    assert _titles("*") == ["*"]  # "* " is a prefix only with its space


def test_kinds_cycle_and_texts() -> None:
    plan = deterministic_plan("a;b;c;d;e")
    assert [t.kind for t in plan.tasks] == ["research", "execution", "status"] * 1 + [
        "research",
        "execution",
    ]
    assert plan.planner == "deterministic"
    assert plan.reply_text == "I have a deterministic plan with 5 task(s) for this goal."
    assert plan.ram_text.splitlines()[:2] == ["Primary Brain plan for goal: a;b;c;d;e", "1. a"]


def test_empty_goal_is_invalid() -> None:
    with pytest.raises(InvalidGoal):
        deterministic_plan("   \n ")


def test_validate_llm_plan_rules() -> None:
    good = {
        "tasks": [
            {"title": "look", "kind": "research"},
            {"title": "do", "kind": "execution", "depends_on": [1]},
        ]
    }
    assert validate_llm_plan(good) == (
        PlannedTask("look", "research"),
        PlannedTask("do", "execution", (1,)),
    )
    bad = [
        [],
        {"tasks": []},
        {"tasks": [{"title": "t", "kind": "research"}] * 6},
        {"tasks": [{"title": "", "kind": "research"}]},
        {"tasks": [{"title": "x" * 201, "kind": "research"}]},
        {"tasks": [{"title": "t", "kind": "cook"}]},
        {"tasks": [{"title": "t", "kind": "status", "depends_on": [1]}]},
        {"tasks": [{"title": "t", "kind": "status", "depends_on": ["1"]}]},
        {"tasks": ["t"]},
    ]
    for raw in bad:
        with pytest.raises(PlanRejected):
            validate_llm_plan(raw)


async def test_llm_plan_accepted() -> None:
    reply = json.dumps({"tasks": [{"title": "Find the bug", "kind": "research", "depends_on": []}]})
    provider = MockProvider(reply="```json\n" + reply + "\n```")
    plan = await llm_plan("fix it", provider)
    assert plan == Plan("fix it", (PlannedTask("Find the bug", "research"),), "llm")
    assert plan.reply_text == "I have a plan with 1 task(s) for this goal."
    assert provider.calls[0][-1].content == "Goal: fix it"


@pytest.mark.parametrize(
    "provider",
    [
        MockProvider(reply="not json at all"),
        MockProvider(reply='{"tasks": []}'),
        MockProvider(script=[status(500)]),
        MockProvider(script=[hang()]),
    ],
)
async def test_bad_llm_plan_falls_back(provider: MockProvider) -> None:
    plan = await llm_plan("a and b", provider, timeout_s=0.2)
    assert plan.planner == "deterministic"
    assert plan.fallback_reason
    assert [t.title for t in plan.tasks] == ["a", "b"]


async def test_make_plan_modes() -> None:
    mock = MockProvider(reply='{"tasks":[{"title":"x","kind":"status"}]}')
    assert (await make_plan("a and b", mock)).planner == "deterministic"  # auto + mock
    forced = await make_plan("a and b", mock, PlannerConfig(mode="llm"))
    assert forced.planner == "llm"
    assert (await make_plan("g", None, PlannerConfig(mode="llm"))).planner == "deterministic"
    assert resolve_mode("auto", "openai") == "llm"
    assert resolve_mode("deterministic", "openai") == "deterministic"


@given(st.text(max_size=300))
@settings(max_examples=200, deadline=None)
def test_deterministic_plan_properties(goal: str) -> None:
    """Any non-blank goal yields 1..5 clean tasks with cycling kinds; blank is invalid."""
    if not goal.strip():
        with pytest.raises(InvalidGoal):
            deterministic_plan(goal)
        return
    plan = deterministic_plan(goal)
    assert 1 <= len(plan.tasks) <= 5
    for i, task in enumerate(plan.tasks):
        assert task.title and task.title == task.title.strip(" -.")
        assert task.kind == ("research", "execution", "status")[i % 3]
