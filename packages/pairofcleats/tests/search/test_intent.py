"""Intent classification (§9.2; acceptance 16: URLs are not paths)."""

from __future__ import annotations

import pytest
from pairofcleats.search.intent import (
    classify_intent,
    field_weights,
    strip_urls,
    vector_variant,
)


@pytest.mark.parametrize(
    ("query", "kind"),
    [
        ("src/util.js", "path"),
        ("./build.sh", "path"),
        ("../lib", "path"),
        ("~/notes", "path"),
        ("/etc/hosts", "path"),
        ("C:\\Users\\x", "path"),
        ("a/b/c", "path"),
        ("how does auth/login work", "prose"),
        ("see https://example.com/docs for retries", "prose"),
        ("see https://example.com/a/b/c for setup", "prose"),
        ("parseArgs", "code"),
        ("add_numbers", "code"),
        ("a && b", "code"),
        ("greet", "mixed"),
        ("and/or", "mixed"),
    ],
)
def test_intent_examples(query: str, kind: str) -> None:
    assert classify_intent(query).type == kind


def test_url_is_removed_and_counted() -> None:
    text, n = strip_urls("see https://example.com/docs for retries")
    assert n == 1
    assert "example" not in text
    intent = classify_intent("see https://example.com/docs for retries")
    assert intent.url_count == 1
    assert intent.scores["path"] == 0


def test_path_filter_forces_path_score() -> None:
    assert classify_intent("greet", path_filter=True).type == "path"


def test_two_phrases_add_prose() -> None:
    assert classify_intent("x", phrase_count=2).scores["prose"] == 1


def test_field_weights_rows() -> None:
    assert field_weights("code")["name"] == 2.0
    assert field_weights("prose")["doc"] == 2.1
    assert field_weights("path")["name"] == 2.4
    assert field_weights("mixed")["operator"] == 0.05


def test_vector_variant() -> None:
    assert vector_variant("prose", ("merged", "doc", "code")) == "doc"
    assert vector_variant("code", ("merged", "doc", "code")) == "code"
    assert vector_variant("path", ("merged", "code")) == "code"
    assert vector_variant("mixed", ("merged", "doc")) == "merged"
    assert vector_variant("prose") == "merged"


@pytest.mark.parametrize(
    ("query", "same_as"),
    [
        ("recovery NOT writer", "recovery -writer"),
        ("recovery not writer", "recovery -writer"),
        ("recovery OR timeout", "recovery timeout"),
        ("recovery AND timeout", "recovery timeout"),
    ],
)
def test_operator_words_are_not_prose_words(query: str, same_as: str) -> None:
    # Negation by NOT must not flip the intent (and with it the match mode) that -x keeps.
    assert classify_intent(query).type == classify_intent(same_as).type == "mixed"
    assert "words" not in classify_intent(query).signals


def test_three_real_words_stay_prose() -> None:
    assert classify_intent("read and write files").type == "prose"
