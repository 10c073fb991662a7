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


def test_fences_with_a_registry_language_yield_code_chunks() -> None:
    from pairofcleats.lang import ChunkingLimits, chunk_file
    from pairofcleats.lang.registry import detect

    text = "# Doc\n\n```python\ndef fenced_fn():\n    return 1\n```\n\n```text\nplain\n```\n"
    spec = detect("doc.md")
    assert spec is not None
    fc = chunk_file("doc.md", text, spec, ChunkingLimits())
    assert [(c.kind, c.name) for c in fc.chunks] == [("Section", "Doc")]
    seg = [c for c in fc.segment_chunks if c.name == "fenced_fn"]
    assert len(seg) == 1
    assert (seg[0].start_row, seg[0].end_row, seg[0].lang) == (3, 4, "python")
    assert seg[0].segment is not None and seg[0].segment["type"] == "fence"
