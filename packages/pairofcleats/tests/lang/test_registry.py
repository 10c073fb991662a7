"""The language registry: extensions, names, modes."""

from __future__ import annotations

import pytest
from pairofcleats.lang import ChunkingLimits, chunk_file
from pairofcleats.lang.registry import detect


@pytest.mark.parametrize(
    ("rel", "lang", "mode"),
    [
        ("Makefile", "make", "code"),
        ("src/GNUmakefile", "make", "code"),
        ("rules.mk", "make", "code"),
        ("Dockerfile", "dockerfile", "code"),
        ("docker/Dockerfile.dev", "dockerfile", "code"),
        ("Containerfile", "dockerfile", "code"),
        ("CMakeLists.txt", "cmake", "code"),  # by name, before .txt (prose)
        ("build.gradle", "groovy", "code"),
        ("Jenkinsfile", "groovy", "code"),
        ("api/user.proto", "protobuf", "code"),
        ("infra/main.tf", "hcl", "code"),
        ("web/App.vue", "vue", "code"),
        ("scripts/setup.zsh", "shell", "code"),
        ("notes.txt", "text", "prose"),
        ("README", "text", "prose"),
        ("dockerfile.md", "markdown", "prose"),  # a known extension wins over the prefix
        ("makefile.py", "python", "code"),
    ],
)
def test_detect(rel: str, lang: str, mode: str) -> None:
    # build files were "unsupported": a Makefile target or a Dockerfile step was unfindable
    spec = detect(rel)
    assert spec is not None and (spec.id, spec.mode) == (lang, mode)


def test_build_files_chunk_into_windows() -> None:
    text = "".join(f"target{i}:\n\tcc -o out{i} main.c\n\n" for i in range(60))
    spec = detect("Makefile")
    assert spec is not None
    fc = chunk_file("Makefile", text, spec, ChunkingLimits())
    assert len(fc.chunks) >= 2 and {c.kind for c in fc.chunks} == {"Module"}
    assert fc.chunks[0].start_row == 0 and fc.chunks[-1].end_row >= 178
