"""Regex chunkers for languages without a grammar wheel, and config files (§4)."""

from __future__ import annotations

import re
from functools import cache

from pairofcleats.lang.model import ChunkDraft
from pairofcleats.lang.notdoc import not_doc

#: Annotations/attributes written on a definition's own line (``@JvmStatic fun``,
#: ``@objc dynamic func``, ``@MainActor public func``).
_INLINE_ANNOTATIONS = r"(?:@[\w.:]+(?:\([^()]*\))?\s+)*"
#: A Kotlin type-argument list, nested two deep (``<K, V : Comparable<V>>``).
_KT_GENERICS = r"(?:<(?:[^<>]|<(?:[^<>]|<[^<>]*>)*>)*>)?"
_DEF_RE: dict[str, re.Pattern[str]] = {
    "kotlin": re.compile(
        r"^\s*" + _INLINE_ANNOTATIONS + r"(?P<mods>(?:(?:public|private|protected|internal|open"
        r"|abstract|final|data|sealed|inline|value|annotation|suspend|override|enum|companion"
        r"|inner|tailrec|operator|infix|external|expect|actual|const|lateinit)\s+)*)"
        r"(?P<word>fun\s+interface|fun|class|interface|object|typealias|val|var)\b\s*"
        r"(?:" + _KT_GENERICS + r"\s*)?"
        # an extension's receiver (``List<T>.``, ``Map.Entry<K, V>?.``): named without its
        # type arguments, as ``fun String.foo`` is ``String.foo``; a ``val``/``var`` is a
        # definition only with one (``val <T> List<T>.lastIndex``, not ``val x = 1``)
        r"(?P<recv>[A-Za-z_][\w.]*" + _KT_GENERICS + r"\??\.)?"
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
#: statements that look alike start with a keyword and are refused). A return type may be
#: a function type (``void Function(int) f(``, ``Future<void> Function() g(``). A header
#: ending in ``;`` with no body (``const Foo({required this.x});``, ``Foo.named(this.y) :
#: super(y);``, ``factory Foo.empty() = _Empty;``, an abstract ``void close();``, or one
#: whose initialiser list starts on the next line) is ``bodiless``: a member only at its
#: type's member indentation (``_member``).
#: A Dart record type (``(int, String)``, ``({int x, int y})``), one nesting deep.
_DART_RECORD = r"\((?:[^();]|\([^();]*\))*\)"
_MEMBER_RE: dict[str, re.Pattern[str]] = {
    "dart": re.compile(
        r"^\s*" + _INLINE_ANNOTATIONS + r"(?P<mods>(?:(?:static|external|abstract|override"
        r"|factory|const)\s+)*)(?!(?:return|else|await|throw|new|yield|case|if|for|while"
        r"|switch|catch|var|final|late|assert|print|super|this|on)\b)"
        r"(?P<ret>(?:" + _DART_RECORD + r"\??|[A-Za-z_])(?:[\w<>?,. \[\]]"
        r"|(?:(?<=Function)|(?<=[<,]))\s*" + _DART_RECORD + r")*?"
        r"\s+)?(?P<word>get\s+|set\s+|operator\s*)?"
        r"(?!(?:Function|async|sync)\b)(?P<name>[A-Za-z_][\w.]*)\s*(?:<[^<>;]*>)?\s*"
        r"(?:\((?:[^;]*\)\s*(?:async\*?|sync\*)?\s*(?::[^;{]*)?(?:\{|=>)|[^;)]*$)"
        r"|(?=\s*(?:\{|=>))"
        r"|(?P<bodiless>\([^;]*\)\s*(?:(?::[^;{]*|=\s*[^;{=>]*)?;|:[^;{]*)?\s*(?://.*)?$)"
        r"|(?P<getter>(?<=\w)\s*;\s*(?://.*)?$))"
    ),
}
#: Kotlin words of properties, chunks only as extensions (``val String.isBlankish``).
_KT_PROPERTY_WORDS = frozenset({"val", "var"})
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
_MARKER = re.compile(r"^\s*(?:/\*+|\*+/|\*(?!/)|///?|--+|#+'?)\s?")  # R roxygen: #'


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
            text = text[:-2].rstrip() if text.endswith("*/") else text
            if not text.strip() or not not_doc(text):  # no banner or tool directive
                doc.append(text)
    return "\n".join(doc).strip(), tuple(" ".join(d.split()) for d in decorators)


def _member_indent(lines: list[str], row: int) -> int:
    """The indentation of the first line in the body of the type declared at ``row`` (the
    line after the one with its ``{``), -1 when there is none (a one-line type)."""
    for k in range(row, min(len(lines), row + _MAX_HEADER_ROWS)):
        code = _blank_strings(lines[k], "//")
        if "{" in code:
            if code[code.index("{") + 1 :].strip(" \t}"):
                return -1
            for j in range(k + 1, min(len(lines), k + _MAX_HEADER_ROWS)):
                if lines[j].strip():
                    return _indent(lines[j]) if _indent(lines[j]) > _indent(lines[row]) else -1
            return -1
        if ";" in code:
            return -1
    return -1


def _member(
    m: re.Match[str] | None, line: str, open_types: list[tuple[int, str, int]]
) -> re.Match[str] | None:
    """A ``_MEMBER_RE`` match that is a definition: one with a return type, a getter or
    setter, or a constructor (named as the enclosing type); ``setState(() {`` and
    ``items.forEach((i) {`` have none of them. At the top level a function needs its
    ``(`` on the line. A ``bodiless`` one (``Foo.named(this.y);``) is one only at its
    type's member indentation: deeper, ``Foo._internal();`` is a statement or a wrapped
    initialiser's value; so is an abstract getter or setter (``int get sides;``, ``set
    label(String v);``)."""
    if m is None:
        return None
    word = (m.group("word") or "").strip()
    if m.group("getter") is not None and word != "get":
        return None  # only a getter is a name and ``;`` (``int get sides;``)
    if (m.group("bodiless") is not None or m.group("getter") is not None) and (
        not open_types or _indent(line) != open_types[-1][2] or word == "operator"
    ):
        return None
    if m.group("ret") or m.group("word"):
        return m if _indent(line) or "(" in line else None
    if not open_types:
        return None
    base = open_types[-1][1].rsplit(".", 1)[-1]
    name = m.group("name")
    return m if name == base or name.startswith(base + ".") else None


#: Rows and characters a definition's parameter list may span.
_MAX_HEADER_ROWS = 40
_MAX_HEADER = 4000
_IDENT_END = re.compile(r"([A-Za-z_$][\w$]*)\s*$")
_LINE_COMMENT = {"lua": "--", "sql": "--", "perl": "#", "r": "#"}
#: Words before a parameter's name that are no part of it.
_PARAM_WORDS: dict[str, frozenset[str]] = {
    "kotlin": frozenset(
        {
            "vararg",
            "noinline",
            "crossinline",
            "val",
            "var",
            "private",
            "protected",
            "internal",
            "public",
            "override",
            "open",
            "final",
        }
    ),
    "scala": frozenset(
        {
            "implicit",
            "using",
            "val",
            "var",
            "private",
            "protected",
            "override",
            "final",
            "lazy",
            "inline",
        }
    ),
    "dart": frozenset({"required", "final", "const", "covariant", "late", "var"}),
    "sql": frozenset({"in", "out", "inout", "variadic"}),
    "swift": frozenset(),
}
#: Where a SQL function's return type ends.
_SQL_RETURNS = re.compile(
    r"\bRETURNS?\s+(?P<ret>.+?)(?=\s+(?:AS|IS|LANGUAGE|BEGIN|DETERMINISTIC|NOT|READS"
    r"|MODIFIES|NO|CONTAINS|IMMUTABLE|STABLE|VOLATILE|STRICT|SECURITY|COST|PARALLEL|WITH"
    r"|CALLED|LEAKPROOF|COMMENT|SQL)\b|\s*(?:\$\w*\$|;|'|$))",
    re.IGNORECASE | re.DOTALL,
)
#: A Perl body's ``my ($self, %args) = @_;`` or ``my $x = shift;`` lines.
_PERL_ARGS = re.compile(r"^\s*my\s*(?:\(([^()]*)\)|([$@%]\w+))\s*=\s*(@_|shift\b)")
#: An Objective-C selector part: ``withOptions:(NSDictionary *)options``.
_OBJC_PART = re.compile(r"(\w*)\s*:\s*(?:\(((?:[^()]|\([^()]*\))*)\))?\s*(\w+)")


_STRING_RE = r""""(?:[^"\\\n]|\\.)*"?|'(?:[^'\\\n]|\\.)*'?|`[^`\n]*`?"""


@cache
def _blanking(line_comment: str) -> re.Pattern[str]:
    """Comments and string literals, in one scan (what comes first wins: a quote inside a
    comment is the comment's)."""
    return re.compile(
        rf"(?P<c>{re.escape(line_comment)}[^\n]*|/\*.*?(?:\*/|$))|(?P<s>{_STRING_RE})", re.DOTALL
    )


def _blank_strings(text: str, line_comment: str, strings: bool = True) -> str:
    """``text`` with comments and the insides of string literals (unless not ``strings``)
    blanked, same length: brackets and commas in them split nothing (``sep: String =
    ", "``)."""

    if not any(q in text for q in ('"', "'", "`", line_comment, "/*")):
        return text

    def blank(m: re.Match[str]) -> str:
        t = m.group()
        if m.group("c") is not None:
            return re.sub(r"[^\n]", " ", t)
        if not strings or len(t) < 2:
            return t
        return t[0] + " " * (len(t) - 2) + t[-1]

    return _blanking(line_comment).sub(blank, text)


def _group_end(text: str, i: int) -> int:
    """The index after the bracket group opening at ``text[i]`` (``len(text)`` if open):
    ``<…>`` counts angle brackets only (``->`` closes none), others ``()[]{}`` only (a
    default's ``a < b`` opens nothing)."""
    angle = text[i] == "<"
    opens, closes = ("<", ">") if angle else ("([{", ")]}")
    depth = 0
    for j in range(i, len(text)):
        ch = text[j]
        if ch in opens:
            depth += 1
        elif ch in closes and not (angle and text[j - 1 : j] in ("-", "=")):
            depth -= 1
            if depth == 0:
                return j + 1
    return len(text)


def _split_top(text: str) -> list[str]:
    """``text`` split at commas outside brackets (``->``/``=>`` close none)."""
    parts, depth, start = [], 0, 0
    for j, ch in enumerate(text):
        if ch in "([{" or (ch == "<" and text[j + 1 : j + 2] != "="):
            depth += 1
        elif ch in ")]}" or (ch == ">" and text[j - 1 : j] not in ("-", "=")):
            depth = max(depth - 1, 0)
        elif ch == "," and depth == 0:
            parts.append(text[start:j])
            start = j + 1
    parts.append(text[start:])
    return [p.strip() for p in parts if p.strip()]


def _param(lang: str, raw: str, blank: str) -> dict[str, str] | None:
    """One parameter's ``{name, type?, default?}`` from its text (``blank``: the same text
    with strings blanked, where the ``=``/``:`` that split it are looked for)."""
    default = None
    eq = next((k for k, ch in enumerate(blank) if ch == "=" and blank[k + 1 : k + 2] != ">"), -1)
    if eq >= 0:
        raw, default, blank = raw[:eq].strip(), raw[eq + 1 :].strip(), blank[:eq].strip()
    if lang in ("kotlin", "scala", "swift", "dart"):  # annotations: @Named("x") a: T
        raw = re.sub(r"@[\w.]+(?:\([^()]*\))?\s*", "", raw)
    elif lang == "sql" and (dm := re.search(r"\s+DEFAULT\s+", raw, re.IGNORECASE)):
        raw, default = raw[: dm.start()], raw[dm.end() :].strip()  # active boolean DEFAULT t
    typ = None
    if lang in ("kotlin", "scala", "swift", "lua", "r") or (lang == "dart" and ":" in raw):
        name, colon, typ = raw.partition(":")
        if lang == "dart" and colon:  # Dart 1 named default ``{int x: 0}``
            name, default, typ = name, typ.strip(), None
        words = name.split()
        words = [w for w in words if w not in _PARAM_WORDS.get(lang, ())]
        if not words:
            return None
        name = words[-1]  # Swift: ``label name: T`` → the parameter name
        typ = typ.strip() if typ else None
    elif lang in ("dart", "sql", "perl"):
        words = [w for w in raw.split() if w.lower() not in _PARAM_WORDS.get(lang, ())]
        if lang == "sql":
            if len(words) < 2 and not (words and words[0].startswith("@")):
                return None  # PostgreSQL's unnamed ``integer``: a type, no name
            name, typ = words[0], " ".join(words[1:]) or None
            if typ and typ.upper().startswith("AS "):  # T-SQL ``@x AS INT``
                typ = typ[3:].strip()
        else:
            text = " ".join(words)
            m = _IDENT_END.search(text)
            if m is None:
                return None
            name = m.group(1)
            typ = text[: m.start()].strip() or None
            if typ is not None and typ.endswith(("this.", "super.")):  # Dart ``this.x``
                typ = None
    else:
        return None
    name = name.strip().lstrip("$@%&*\\").removeprefix("this.").removeprefix("super.")
    if lang == "lua" and name == "...":
        return {"name": "..."}
    if not name or not (name[0].isalpha() or name[0] in "_." or name == "..."):
        return None
    out = {"name": name}
    if typ:
        out["type"] = " ".join(typ.split())
    if default:
        out["default"] = " ".join(default.split())
    return out


def _params_of(lang: str, group: str) -> tuple[dict[str, str], ...]:
    """The parameters of one ``( … )`` group's inside."""
    comment = _LINE_COMMENT.get(lang, "//")
    blank = _blank_strings(group, comment)
    out: list[dict[str, str]] = []
    pos = 0
    pieces: list[tuple[str, str]] = []
    for part in _split_top(blank):
        k = blank.index(part, pos)
        pos = k + len(part)
        pieces.append((group[k:pos], part))
    for raw, bl in pieces:
        if lang == "dart" and bl[:1] in "{[" and bl[-1:] in "}]":  # optional groups
            out.extend(_params_of(lang, raw[1:-1]))
            continue
        p = _param(lang, raw, bl)
        if p is not None:
            out.append(p)
    return tuple(out)


def _return_text(text: str) -> str | None:
    t = " ".join(text.split()).strip()
    return t or None


def _header_parts(
    lang: str, lines: list[str], row: int, col: int, last_row: int, ret: str | None
) -> tuple[tuple[dict[str, str], ...], str | None, str | None]:
    """``(params, returns, signature)`` of the definition whose name ends at
    ``lines[row][col]``: its parameter list(s), the return type the language writes (``: T``
    in Kotlin and Scala, ``-> T`` in Swift, ``RETURNS t`` in SQL; Dart's ``ret`` comes from
    its match), and its header without comments when the parameters span several rows
    (None when they are on the definition's row)."""
    text = "\n".join(lines[row : min(last_row, row + _MAX_HEADER_ROWS) + 1])[:_MAX_HEADER]
    blank = _blank_strings(text, _LINE_COMMENT.get(lang, "//"))
    i, n = col, len(text)
    while i < n and blank[i] in " \t":
        i += 1
    if i < n and blank[i] in "<[" and lang != "lua":  # generics: name<T>( / name[T](
        i = _group_end(blank, i)
    if lang in ("lua", "r", "sql", "perl"):
        while i < n and blank[i] in " \t\n":
            i += 1
    if i >= n or blank[i] != "(":
        return (), ret, None
    params: list[dict[str, str]] = []
    while i < n and blank[i] == "(":
        end = _group_end(blank, i)
        params.extend(_params_of(lang, text[i + 1 : end - 1]))
        i = end
        if lang != "scala":  # curried / implicit parameter lists
            break
        while i < n and blank[i] in " \t\n":
            i += 1
    multi_row = "\n" in text[col:i]
    tail = blank[i : i + 400]
    stop = re.search(r"[{=\n]|\bwhere\b", tail)
    head = tail[: stop.start()] if stop else tail
    if lang in ("kotlin", "scala"):
        m = re.match(r"\s*:\s*(.+)", head)
        ret = _return_text(m.group(1)) if m else None
    elif lang == "swift":
        m = re.search(r"->\s*(.+)", head)
        ret = _return_text(m.group(1)) if m else None
    elif lang == "sql":
        sm = _SQL_RETURNS.search(text[i : i + 400])
        ret = _return_text(sm.group("ret")) if sm else None
    sig = None
    if multi_row:
        code = _blank_strings(text[: i + len(head)], _LINE_COMMENT.get(lang, "//"), False)
        sig = " ".join(code.split())
    return tuple(params[:64]), ret, sig


def _perl_params(lines: list[str], row: int, end: int) -> tuple[dict[str, str], ...]:
    """A Perl sub's ``my ($self, %args) = @_;`` / ``my $x = shift;`` lines at its top."""
    out: list[dict[str, str]] = []
    for line in lines[row + 1 : min(end, row + 12) + 1]:
        m = _PERL_ARGS.match(line)
        if m is None:
            if out or (line.strip() and not line.strip().startswith("#")):
                break
            continue
        names = m.group(1).split(",") if m.group(1) is not None else [m.group(2)]
        out.extend({"name": v.strip().lstrip("$@%")} for v in names if v.strip().lstrip("$@%"))
        if m.group(3) == "@_":
            break
    return tuple(out)


def _objc_method(
    lines: list[str], row: int
) -> tuple[str, tuple[dict[str, str], ...], str | None, str] | None:
    """``(selector, params, returns, header)`` of the Objective-C method at ``row``: ``- (NSString
    *)nameForUser:(User *)user withOptions:(NSDictionary *)o`` → ``nameForUser:withOptions:``
    (its parts may be on rows of their own, colons aligned, up to its ``{`` or ``;``)."""
    line = lines[row]
    k = row
    while "{" not in line and ";" not in line and k + 1 < min(len(lines), row + 12):
        k += 1
        if lines[k].lstrip().startswith(("-", "+", "@", "#")):
            break
        line += " " + lines[k].strip()
    m = re.match(r"\s*[-+]\s*(?:\(((?:[^()]|\([^()]*\))*)\))?\s*(\w+)", line)
    if m is None:
        return None
    ret = _return_text(m.group(1) or "") or "id"
    header = " ".join(line.split("{")[0].split(";")[0].split())
    rest = line[m.start(2) :].split("{")[0].split(";")[0]
    parts = list(_OBJC_PART.finditer(rest))
    if not parts:
        return m.group(2), (), ret, header
    selector = "".join(p.group(1) + ":" for p in parts)
    params = tuple(
        {"name": p.group(3), "type": " ".join(p.group(2).split())}
        if p.group(2)
        else {"name": p.group(3)}
        for p in parts
    )
    return selector, params, ret, header


_ObjcParts = tuple[tuple[dict[str, str], ...], str]
_FUNCTION_KINDS = frozenset({"FunctionDeclaration", "MethodDeclaration", "ConstructorDeclaration"})


def regex_chunks(lang: str, lines: list[str], stem: str) -> list[ChunkDraft]:
    """One chunk per definition line up to the next; leading lines are ``Module``.

    A definition indented under a type's line (Kotlin, Swift, Scala, Dart, …) is its
    member: ``Repo.find``, a ``MethodDeclaration``, as the tree-sitter chunker names them;
    a line at the type's indentation or less ends the type. The comments and annotations
    directly above a definition are its own: they start its chunk and give its ``doc``
    and ``decorators`` (they were the end of the chunk before).
    """
    pat = _DEF_RE.get(lang)
    # (lead row, row, kind, name, column after the name, return type, Objective-C parts)
    starts: list[tuple[int, int, str, str, int, str | None, _ObjcParts | None]] = []
    if pat is not None:
        # (indent, qualified name, its members' indent), innermost last
        open_types: list[tuple[int, str, int]] = []
        objc_type = ""  # the @interface/@implementation a method is in, up to its @end
        for i, line in enumerate(lines):
            if lang == "objc" and line.startswith("@end"):
                objc_type = ""
            m = pat.match(line)
            if m is None and (member := _MEMBER_RE.get(lang)) is not None and len(line) < 400:
                m = _member(member.match(line), line, open_types)
            if m:
                groups = m.groupdict()
                word, name = groups["word"] or "function", groups["name"] or groups.get("lhs")
                recv = groups.get("recv")
                if lang == "kotlin" and word in _KT_PROPERTY_WORDS and not (recv and name):
                    continue  # a plain property or local: a line of its definition
                if name and recv:  # Kotlin ``fun <T> List<T>.swap``
                    name = recv.rstrip(".").rstrip("?").split("<", 1)[0] + "." + name
                mods = m.groupdict().get("mods") or ""
                # where the parameter list follows: after ``function`` in R's ``f <- function(``
                col = m.end("name") if groups["name"] and lang != "r" else m.end()
                ret = (groups.get("ret") or "").strip() or None
                if ret in ("get", "set", "operator"):  # Dart ``set count(int v)``: no type
                    ret = None
                objc_parts = None  # (params, header) of an Objective-C method
                if lang == "objc" and word in "-+" and (objc := _objc_method(lines, i)) is not None:
                    name, objc_params, ret, header = objc
                    objc_parts = (objc_params, header)
                    starts.append(
                        (
                            max(_lead_start(lang, lines, i), starts[-1][1] + 1 if starts else 0),
                            i,
                            "MethodDeclaration" if objc_type else "FunctionDeclaration",
                            f"{objc_type}.{name}" if objc_type else name,
                            col,
                            ret,
                            objc_parts,
                        )
                    )
                    continue
                if lang == "objc" and name and word.startswith("@"):
                    objc_type = name
                if lang == "lua" and name:
                    name = name.replace(":", ".")  # ``function M:greet`` is ``M.greet``
                if name is None and (word != "object" or "companion" in mods.split()):
                    name = _NAMELESS.get(word, "")  # not an ``object : Runnable`` expression
                if not name:
                    continue
                kind, name = _kind(word, mods), name.strip('"`')
                if lang == "kotlin" and word in _KT_PROPERTY_WORDS:
                    kind = "PropertyDeclaration"  # the kind of C# properties, Ruby attr_*
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
                if word.lower().split()[-1] in _TYPE_WORDS and lang != "objc":
                    open_types.append((depth, name, _member_indent(lines, i)))
                if lang == "sql" and word.lower() not in ("function", "procedure"):
                    col = -1  # a table's columns are no parameters
                floor = starts[-1][1] + 1 if starts else 0
                lead = max(_lead_start(lang, lines, i), floor)
                starts.append((lead, i, kind, name, col, ret, objc_parts))
    out: list[ChunkDraft] = []
    first = starts[0][0] if starts else len(lines)
    if first > 0 and _alnum(lines, 0, first - 1):
        out.append(ChunkDraft(0, first - 1, "Module", stem, lang))
    for j, (lead, row, kind, name, col, ret, objc_parts) in enumerate(starts):
        end = starts[j + 1][0] - 1 if j + 1 < len(starts) else len(lines) - 1
        while end > row and not lines[end].strip():
            end -= 1
        doc, decorators = _lead_parts(lines, lead, row)
        sig = lines[row].strip().removesuffix("{").rstrip().removesuffix(";").rstrip()[:300]
        params: tuple[dict[str, str], ...] = ()
        returns: str | None = None
        if objc_parts is not None:
            params, returns, sig = objc_parts[0], ret, objc_parts[1][:300]
        elif kind in _FUNCTION_KINDS and col >= 0:
            params, returns, long_sig = _header_parts(lang, lines, row, col, end, ret)
            if lang == "perl" and not params:
                params = _perl_params(lines, row, end)
            if long_sig is not None:  # parameters over several rows: the signature holds them
                sig = long_sig[:300]
        out.append(
            ChunkDraft(
                lead,
                end,
                kind,
                name,
                lang,
                doc=doc,
                signature=sig,
                params=params,
                returns=returns,
                decorators=decorators,
            )
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
