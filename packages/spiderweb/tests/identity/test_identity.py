"""Identity layering (§7, §17.8) on real files."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from spiderweb.identity import (
    DEFAULT_PROMPT,
    MAX_FILE_BYTES,
    IdentityLoader,
    Section,
    layer_files,
    load_identity,
    merge_sections,
    split_sections,
)


def test_no_files_gives_default(tmp_path: Path) -> None:
    ident = load_identity(tmp_path, "a")
    assert ident.prompt == DEFAULT_PROMPT
    assert ident.files == () and ident.warnings == ()


def test_split_sections() -> None:
    text = "intro\n# Style\nbe terse\n  ### style  \nagain\n#Empty\n   \n"
    assert split_sections(text) == [
        Section("__preamble__", "intro"),
        Section("Style", "# Style\nbe terse"),
        Section("style", "  ### style  \nagain"),
        Section("Empty", "#Empty\n   "),
    ]


def test_merge_keeps_first_and_warns() -> None:
    prompt, warnings = merge_sections(
        [
            ("SOUL.md", "# Style\nsoul style\n# Empty\n\n"),
            ("AGENT.md", "agent preamble\n## STYLE\nagent style\n# Goals\ngoals\n# goals\ndup"),
        ]
    )
    assert prompt == "# Style\nsoul style\n\nagent preamble\n\n# Goals\ngoals"
    assert warnings == [
        "section 'STYLE' in AGENT.md shadowed by SOUL.md",
        "section 'goals' in AGENT.md shadowed by AGENT.md",
    ]


def test_layers_and_lookup_dirs(tmp_path: Path) -> None:
    (tmp_path / "agents" / "a").mkdir(parents=True)
    (tmp_path / "a").mkdir()
    (tmp_path / "USER.md").write_text("# User\nroot user\n")
    (tmp_path / "a" / "SOUL.md").write_text("# Tone\nagent-dir soul\n")
    (tmp_path / "SOUL.md").write_text("# Tone\nroot soul (not used: lower dir)\n")
    (tmp_path / "agents" / "a" / "AGENT.md").write_text("# Tone\nshadowed\n# Role\nhelper\n")
    files = layer_files(tmp_path, "a")
    assert [p.relative_to(tmp_path).as_posix() for p in files] == [
        "a/SOUL.md",
        "agents/a/AGENT.md",
        "USER.md",
    ]
    ident = load_identity(tmp_path, "a")
    assert ident.prompt == "# Tone\nagent-dir soul\n\n# Role\nhelper\n\n# User\nroot user"
    assert ident.warnings == ("section 'Tone' in agents/a/AGENT.md shadowed by a/SOUL.md",)


def test_big_file_skipped_and_bad_utf8_replaced(tmp_path: Path) -> None:
    (tmp_path / "SOUL.md").write_bytes(b"# X\n" + b"a" * MAX_FILE_BYTES)
    (tmp_path / "USER.md").write_bytes(b"# Name\ncaf\xe9\n")
    ident = load_identity(tmp_path, "a")
    assert ident.prompt == "# Name\ncaf\ufffd"
    assert any("larger than" in w for w in ident.warnings)
    assert ident.files == ("USER.md",)


def test_invalid_agent_id(tmp_path: Path) -> None:
    for bad in ("..", "a/b", "", "x" * 65):
        with pytest.raises(ValueError):
            load_identity(tmp_path, bad)


def test_loader_caches_by_mtime_and_size(tmp_path: Path) -> None:
    loader = IdentityLoader(tmp_path)
    soul = tmp_path / "SOUL.md"
    soul.write_text("# A\none\n")
    first = loader.get("a")
    assert loader.get("a") is first
    soul.write_text("# A\ntwo!\n")
    st = soul.stat()
    os.utime(soul, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000))
    second = loader.get("a")
    assert second is not first and "two!" in second.prompt
    (tmp_path / "USER.md").write_text("# B\nnew file\n")
    assert "new file" in loader.get("a").prompt
    soul.unlink()
    assert "two!" not in loader.get("a").prompt
