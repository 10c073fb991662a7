"""Markdown and RST heading chunkers (§4 prose chunks)."""

from __future__ import annotations

from pairofcleats.lang.prose import markdown_chunks, rst_chunks


def test_markdown_sections_and_heading_path() -> None:
    lines = [
        "intro text",
        "# Guide",
        "body",
        "## Install",
        "steps",
        "```",
        "# not a heading",
        "```",
        "",
    ]
    got = [(c.kind, c.name, c.heading_path, c.start_row, c.end_row) for c in markdown_chunks(lines)]
    assert got[0][:2] == ("Preamble", "")
    assert got[1][:3] == ("Section", "Guide", ())
    assert got[2][:3] == ("Section", "Install", ("Guide",))
    assert len(got) == 3


def test_markdown_front_matter_and_setext() -> None:
    lines = ["---", "title: x", "---", "Title", "=====", "text", ""]
    got = [(c.kind, c.name) for c in markdown_chunks(lines)]
    assert got == [("FrontMatter", "front-matter"), ("Section", "Title")]


def test_rst_titles() -> None:
    lines = ["=====", "Top", "=====", "", "intro", "", "Sub", "---", "", "more", ""]
    got = [(c.kind, c.name, c.heading_path) for c in rst_chunks(lines)]
    assert got == [("Section", "Top", ()), ("Section", "Sub", ("Top",))]


def test_rst_underline_must_be_long_enough() -> None:
    lines = ["Long title", "---", "text", ""]
    assert [c.kind for c in rst_chunks(lines)] == ["Preamble"]
