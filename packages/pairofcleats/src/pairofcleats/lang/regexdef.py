"""Regex chunkers for languages without a grammar wheel, and config files (§4)."""

from __future__ import annotations

import re

from pairofcleats.lang.model import ChunkDraft

_DEF_RE: dict[str, re.Pattern[str]] = {
    "kotlin": re.compile(
        r"^\s*(?:(?:public|private|protected|internal|open|abstract|data|sealed|inline|suspend|override|enum)\s+)*"
        r"(fun|class|interface|object)\s+(?:<[^>]*>\s*)?([A-Za-z_][\w.]*)"
    ),
    "swift": re.compile(
        r"^\s*(?:(?:public|private|fileprivate|internal|open|final|static|override|mutating)\s+)*"
        r"(func|class|struct|enum|protocol|extension)\s+([A-Za-z_]\w*)"
    ),
    "scala": re.compile(
        r"^\s*(?:(?:private|protected|final|abstract|sealed|case|override|implicit)\s+)*"
        r"(def|class|object|trait)\s+([A-Za-z_]\w*)"
    ),
    "lua": re.compile(r"^\s*(?:local\s+)?(function)\s+([A-Za-z_][\w.:]*)"),
    "perl": re.compile(r"^\s*(sub|package)\s+([A-Za-z_][\w:]*)"),
    "r": re.compile(r"^\s*([A-Za-z_.][\w.]*)\s*(?:<-|=)\s*(function)\b"),
    "sql": re.compile(
        r"^\s*(?i:create\s+(?:or\s+replace\s+)?(table|view|function|procedure|index|trigger))\s+"
        r"(?:if\s+not\s+exists\s+)?([\"`\w.]+)",
    ),
    "objc": re.compile(r"^\s*(@interface|@implementation|@protocol|[-+])\s*\(?\s*([A-Za-z_]\w*)"),
    "dart": re.compile(
        r"^\s*(?:(?:abstract|static|final|external|factory)\s+)*(class|mixin|enum|extension)\s+([A-Za-z_]\w*)"
    ),
}
_TYPE_WORDS = {
    "class",
    "struct",
    "interface",
    "object",
    "trait",
    "protocol",
    "extension",
    "mixin",
    "enum",
    "@interface",
    "@implementation",
    "@protocol",
    "package",
    "table",
    "view",
}


def _kind(word: str) -> str:
    w = word.lower()
    if w in ("interface", "protocol", "trait", "@protocol"):
        return "InterfaceDeclaration"
    if w == "enum":
        return "EnumDeclaration"
    if w in _TYPE_WORDS:
        return "ClassDeclaration"
    return "FunctionDeclaration"


def _alnum(lines: list[str], s: int, e: int) -> bool:
    return any(ch.isalnum() for r in range(s, e + 1) for ch in lines[r])


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip())


def regex_chunks(lang: str, lines: list[str], stem: str) -> list[ChunkDraft]:
    """One chunk per definition line up to the next; leading lines are ``Module``.

    A definition indented under a type's line (Kotlin, Swift, Scala, Dart, …) is its
    member: ``Repo.find``, a ``MethodDeclaration``, as the tree-sitter chunker names them;
    a line at the type's indentation or less ends the type.
    """
    pat = _DEF_RE.get(lang)
    starts: list[tuple[int, str, str]] = []
    if pat is not None:
        open_types: list[tuple[int, str]] = []  # (indent, qualified name), innermost last
        for i, line in enumerate(lines):
            m = pat.match(line)
            if m:
                a, b = m.group(1), m.group(2)
                word, name = (b, a) if lang == "r" else (a, b)
                kind, name = _kind(word), name.strip('"`')
                depth = _indent(line)
                while open_types and open_types[-1][0] >= depth:
                    open_types.pop()
                if open_types:
                    name = f"{open_types[-1][1]}.{name}"
                    if kind == "FunctionDeclaration":
                        kind = "MethodDeclaration"
                if word.lower() in _TYPE_WORDS:
                    open_types.append((depth, name))
                starts.append((i, kind, name))
    out: list[ChunkDraft] = []
    first = starts[0][0] if starts else len(lines)
    if first > 0 and _alnum(lines, 0, first - 1):
        out.append(ChunkDraft(0, first - 1, "Module", stem, lang))
    for j, (row, kind, name) in enumerate(starts):
        end = starts[j + 1][0] - 1 if j + 1 < len(starts) else len(lines) - 1
        while end > row and not lines[end].strip():
            end -= 1
        out.append(ChunkDraft(row, end, kind, name, lang, signature=lines[row].strip()[:300]))
    return out


_KEY_RE: dict[str, re.Pattern[str]] = {
    "json": re.compile(r'^(\s*)"((?:[^"\\]|\\.)*)"\s*:'),
    "yaml": re.compile(r"^()([A-Za-z0-9_\"'][^:#]*?)\s*:(?:\s|$)"),
    "toml": re.compile(r"^()(?:\[\[?\s*([^\]]+?)\s*\]\]?|([A-Za-z0-9_\"'.-]+)\s*=)"),
    "ini": re.compile(r"^()\[([^\]]+)\]"),
}


def config_chunks(lang: str, lines: list[str], stem: str) -> list[ChunkDraft]:
    """``ConfigEntry`` per top-level key (JSON: keys at the shallowest indent)."""
    pat = _KEY_RE[lang]
    hits: list[tuple[int, str, int]] = []
    for i, line in enumerate(lines):
        m = pat.match(line)
        if m:
            name = next((g for g in m.groups()[1:] if g), "")
            hits.append((i, name.strip("\"' "), len(m.group(1))))
    if lang == "json" and hits:
        depth = min(h[2] for h in hits)
        hits = [h for h in hits if h[2] == depth]
    if lang == "toml":
        tables = [h for h in hits if lines[h[0]].lstrip().startswith("[")]
        if tables:
            first_table = tables[0][0]
            hits = [h for h in hits if h[0] < first_table or lines[h[0]].lstrip().startswith("[")]
    out: list[ChunkDraft] = []
    first = hits[0][0] if hits else len(lines)
    if first > 0 and _alnum(lines, 0, first - 1):
        out.append(ChunkDraft(0, first - 1, "Module", stem, lang))
    for j, (row, name, _) in enumerate(hits):
        end = hits[j + 1][0] - 1 if j + 1 < len(hits) else len(lines) - 1
        while end > row and not lines[end].strip():
            end -= 1
        if _alnum(lines, row, end):
            out.append(ChunkDraft(row, end, "ConfigEntry", name, lang))
    return out
