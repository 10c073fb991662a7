"""Regex chunkers for languages without a grammar wheel, and config files (§4)."""

from __future__ import annotations

import re

from pairofcleats.lang.model import ChunkDraft

#: Annotations/attributes written on a definition's own line (``@JvmStatic fun``,
#: ``@objc dynamic func``, ``@MainActor public func``).
_INLINE_ANNOTATIONS = r"(?:@[\w.:]+(?:\([^()]*\))?\s+)*"
_DEF_RE: dict[str, re.Pattern[str]] = {
    "kotlin": re.compile(
        r"^\s*" + _INLINE_ANNOTATIONS + r"(?P<mods>(?:(?:public|private|protected|internal|open"
        r"|abstract|final|data|sealed|inline|value|annotation|suspend|override|enum|companion"
        r"|inner|tailrec|operator|infix|external|expect|actual|const|lateinit)\s+)*)"
        r"(?P<word>fun\s+interface|fun|class|interface|object|typealias)\b\s*(?:<[^>]*>\s*)?"
        r"(?P<name>[A-Za-z_][\w.]*|`[^`]+`)?"
    ),
    "swift": re.compile(
        r"^\s*" + _INLINE_ANNOTATIONS + r"(?P<mods>(?:(?:public|private|fileprivate|internal"
        r"|open|package|final|static|override|mutating|nonmutating|convenience|required"
        r"|dynamic|nonisolated|indirect|lazy|class(?=\s+(?:func|var|let|subscript)\b))"
        r"(?:\(set\))?\s+)*)"
        r"(?P<word>func|class|struct|enum|protocol|extension|actor|typealias|init|deinit)\b"
        r"[?!]?\s*(?P<name>[A-Za-z_][\w.]*|`[^`]+`|[^\s\w(<{`]+)?"
    ),
    "scala": re.compile(
        r"^\s*" + _INLINE_ANNOTATIONS + r"(?P<mods>(?:(?:private|protected|final|abstract"
        r"|sealed|case|override|implicit|lazy|inline|transparent|open|opaque)"
        r"(?:\[\w+\])?\s+)*)(?P<word>def|class|object|trait|enum|type)\s+(?P<name>[A-Za-z_]\w*)"
    ),
    "lua": re.compile(
        r"^\s*(?:local\s+)?(?:(?P<word>function)\s+(?P<name>[A-Za-z_][\w.:]*)"
        r"|(?P<lhs>[A-Za-z_][\w.:]*)\s*=\s*function\b)"
    ),
    "perl": re.compile(r"^\s*(?P<word>sub|package)\s+(?P<name>[A-Za-z_][\w:]*)"),
    "r": re.compile(r"^\s*(?P<name>[A-Za-z_.][\w.]*)\s*(?:<-|=)\s*(?P<word>function)\b"),
    "sql": re.compile(
        r"^\s*(?i:create\s+(?:or\s+replace\s+)?(?P<word>table|view|function|procedure|index"
        r"|trigger))\s+(?:if\s+not\s+exists\s+)?(?P<name>[\"`\w.]+)",
    ),
    "objc": re.compile(
        r"^\s*(?P<word>@interface|@implementation|@protocol|[-+])\s*\(?\s*(?P<name>[A-Za-z_]\w*)"
    ),
    "dart": re.compile(
        r"^\s*" + _INLINE_ANNOTATIONS + r"(?P<mods>(?:(?:abstract|base|final|interface|sealed"
        r"|static|external|factory)\s+)*)(?P<word>class|mixin|enum|extension|typedef)\s+"
        r"(?P<name>[A-Za-z_]\w*)"
    ),
}
#: Second patterns, tried when the first does not match: Dart methods, getters, setters and
#: constructors (a return type or class name, then ``name(`` with no ``;`` after it;
#: statements that look alike start with a keyword and are refused).
_MEMBER_RE: dict[str, re.Pattern[str]] = {
    "dart": re.compile(
        r"^\s*" + _INLINE_ANNOTATIONS + r"(?P<mods>(?:(?:static|external|abstract|override"
        r"|factory|const)\s+)*)(?!(?:return|else|await|throw|new|yield|case|if|for|while"
        r"|switch|catch|var|final|late|assert|print|super|this)\b)"
        r"(?P<ret>[A-Za-z_][\w<>?,. \[\]]*?\s+)?(?P<word>get\s+|set\s+|operator\s*)?"
        r"(?P<name>[A-Za-z_][\w.]*)\s*(?:<[^<>;]*>)?\s*(?:\((?:[^;]*\)\s*(?:async\*?|sync\*)?"
        r"\s*(?::[^;{]*)?(?:\{|=>)|[^;)]*$)|(?=\s*(?:\{|=>)))"
    ),
}
#: Definitions whose name is their keyword: Swift initialisers, a Kotlin companion.
_NAMELESS = {"init": "init", "deinit": "deinit", "object": "Companion"}
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
    "actor",
    "@interface",
    "@implementation",
    "@protocol",
    "package",
    "table",
    "view",
}
#: Line-comment markers, and whether ``/* … */`` blocks and ``@annotation`` lines exist.
_C_LIKE = (("//", "*", "/*"), True, True)
_COMMENTS: dict[str, tuple[tuple[str, ...], bool, bool]] = {
    "kotlin": _C_LIKE,
    "swift": _C_LIKE,
    "scala": _C_LIKE,
    "dart": _C_LIKE,
    "objc": (("//", "*", "/*"), True, False),
    "lua": (("--",), False, False),
    "sql": (("--",), True, False),
    "perl": (("#",), False, False),
    "r": (("#",), False, False),
}
#: Rows a ``/* … */`` block above a definition may span.
_MAX_BLOCK_ROWS = 400
#: Rows a multi-line annotation (``@Deprecated(\n message = …,\n)``) may span.
_MAX_ANNOTATION_ROWS = 30
_MARKER = re.compile(r"^\s*(?:/\*+|\*+/|\*(?!/)|///?|--+|#+)\s?")


def _kind(word: str, mods: str = "") -> str:
    w = word.lower().split()[-1]  # Kotlin ``fun interface``
    if w in ("interface", "protocol", "trait", "@protocol"):
        return "InterfaceDeclaration"
    if w == "enum" or (w == "class" and "enum" in mods.split()):
        return "EnumDeclaration"
    if w in ("typealias", "typedef", "type"):
        return "TypeAlias"
    if w in _TYPE_WORDS:
        return "ClassDeclaration"
    return "FunctionDeclaration"


def _alnum(lines: list[str], s: int, e: int) -> bool:
    return any(ch.isalnum() for r in range(s, e + 1) for ch in lines[r])


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip())


def _annotation_start(lines: list[str], row: int) -> int:
    """The row of the ``@Annotation(`` that the ``)`` line ``row`` closes, else -1."""
    depth = 0
    for k in range(row, max(row - _MAX_ANNOTATION_ROWS, -1), -1):
        depth += lines[k].count(")") - lines[k].count("(")
        if depth <= 0 and lines[k].lstrip().startswith("@"):
            return k if depth == 0 else -1
    return -1


def _lead_start(lang: str, lines: list[str], row: int) -> int:
    """The first row of the comments and annotations directly above ``row`` (``row`` when
    none): the definition's, not the end of the chunk before it."""
    marks, blocks, annotations = _COMMENTS.get(lang, ((), False, False))
    i = row - 1
    while i >= 0:
        t = lines[i].strip()
        if not t:
            break
        if blocks and t.endswith("*/"):
            j, floor = i, max(i - _MAX_BLOCK_ROWS, -1)
            while j > floor and "/*" not in lines[j]:
                j -= 1
            if j <= floor:  # no opening in reach: not scanned again for every definition
                break
            i = j - 1
        elif t.startswith(marks) or (annotations and t.startswith("@")):
            i -= 1
        elif annotations and t.startswith(")") and (k := _annotation_start(lines, i)) >= 0:
            i = k - 1
        else:
            break
    return i + 1


def _lead_parts(lines: list[str], start: int, row: int) -> tuple[str, tuple[str, ...]]:
    """``(doc, decorators)`` of the lead rows ``start..row-1``: comment text with its
    markers removed, and each annotation (with its continuation lines)."""
    doc: list[str] = []
    decorators: list[str] = []
    in_annotation = False
    for line in lines[start:row]:
        t = line.strip()
        if t.startswith("@"):
            decorators.append(t)
            in_annotation = t.count("(") > t.count(")")
        elif in_annotation:
            decorators[-1] += " " + t
            in_annotation = decorators[-1].count("(") > decorators[-1].count(")")
        else:
            text = _MARKER.sub("", line, count=1).rstrip()
            doc.append(text[:-2].rstrip() if text.endswith("*/") else text)
    return "\n".join(doc).strip(), tuple(" ".join(d.split()) for d in decorators)


def _member(
    m: re.Match[str] | None, line: str, open_types: list[tuple[int, str]]
) -> re.Match[str] | None:
    """A ``_MEMBER_RE`` match that is a definition: one with a return type, a getter or
    setter, or a constructor (named as the enclosing type); ``setState(() {`` and
    ``items.forEach((i) {`` have none of them. At the top level a function needs its
    ``(`` on the line."""
    if m is None:
        return None
    if m.group("ret") or m.group("word"):
        return m if _indent(line) or "(" in line else None
    if not open_types:
        return None
    base = open_types[-1][1].rsplit(".", 1)[-1]
    name = m.group("name")
    return m if name == base or name.startswith(base + ".") else None


def regex_chunks(lang: str, lines: list[str], stem: str) -> list[ChunkDraft]:
    """One chunk per definition line up to the next; leading lines are ``Module``.

    A definition indented under a type's line (Kotlin, Swift, Scala, Dart, …) is its
    member: ``Repo.find``, a ``MethodDeclaration``, as the tree-sitter chunker names them;
    a line at the type's indentation or less ends the type. The comments and annotations
    directly above a definition are its own: they start its chunk and give its ``doc``
    and ``decorators`` (they were the end of the chunk before).
    """
    pat = _DEF_RE.get(lang)
    starts: list[tuple[int, int, str, str]] = []
    if pat is not None:
        open_types: list[tuple[int, str]] = []  # (indent, qualified name), innermost last
        for i, line in enumerate(lines):
            m = pat.match(line)
            if m is None and (member := _MEMBER_RE.get(lang)) is not None and len(line) < 400:
                m = _member(member.match(line), line, open_types)
            if m:
                groups = m.groupdict()
                word, name = groups["word"] or "function", groups["name"] or groups.get("lhs")
                mods = m.groupdict().get("mods") or ""
                if lang == "lua" and name:
                    name = name.replace(":", ".")  # ``function M:greet`` is ``M.greet``
                if name is None and (word != "object" or "companion" in mods.split()):
                    name = _NAMELESS.get(word, "")  # not an ``object : Runnable`` expression
                if not name:
                    continue
                kind, name = _kind(word, mods), name.strip('"`')
                depth = _indent(line)
                while open_types and open_types[-1][0] >= depth:
                    open_types.pop()
                if open_types:
                    outer = open_types[-1][1]
                    base = outer.rsplit(".", 1)[-1]
                    ctor = lang == "dart" and (name == base or name.startswith(base + "."))
                    if name.startswith(base + "."):  # Dart ``Foo.named(`` in ``Foo``
                        name = outer + name[len(base) :]
                    else:
                        name = f"{outer}.{name}"
                    if kind == "FunctionDeclaration":
                        kind = "ConstructorDeclaration" if ctor else "MethodDeclaration"
                if word.lower().split()[-1] in _TYPE_WORDS:
                    open_types.append((depth, name))
                floor = starts[-1][1] + 1 if starts else 0
                starts.append((max(_lead_start(lang, lines, i), floor), i, kind, name))
    out: list[ChunkDraft] = []
    first = starts[0][0] if starts else len(lines)
    if first > 0 and _alnum(lines, 0, first - 1):
        out.append(ChunkDraft(0, first - 1, "Module", stem, lang))
    for j, (lead, row, kind, name) in enumerate(starts):
        end = starts[j + 1][0] - 1 if j + 1 < len(starts) else len(lines) - 1
        while end > row and not lines[end].strip():
            end -= 1
        doc, decorators = _lead_parts(lines, lead, row)
        sig = lines[row].strip().removesuffix("{").rstrip()[:300]
        out.append(
            ChunkDraft(lead, end, kind, name, lang, doc=doc, signature=sig, decorators=decorators)
        )
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
