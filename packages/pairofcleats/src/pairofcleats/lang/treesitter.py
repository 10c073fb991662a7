"""Tree-sitter code chunker (§4): disjoint definition chunks covering every meaningful line.

Definitions are found by walking only module level, wrappers (exports,
decorators, namespaces) and type bodies; function bodies are never descended,
so nested helpers stay inside their function. Each row is owned by the innermost
definition that spans it (members win over their type), and runs of rows with
the same owner become chunks: the first run of a type is its header chunk,
later runs are ``ClassBody``, unowned runs are ``Module``.
"""

from __future__ import annotations

import bisect
import html
import itertools
import operator
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cache
from typing import Any

import tree_sitter

from pairofcleats.lang.model import ChunkDraft, ChunkingLimits, FileChunks
from pairofcleats.lang.notdoc import is_annotation, is_banner, not_doc
from pairofcleats.lang.tables import BODY_TYPES, TABLES, NodeTable, keywords, language
from pairofcleats.lang.windows import has_alnum_row, oversize_bounds, trim_blank_rows

_WS = re.compile(r"\s+")
#: A comment line's leading marker; ``**`` + space is SQLite's block style (``** text``),
#: while ``**bold**`` stays as written.
_COMMENT_MARK = re.compile(r"^\s*(?:/\*\*?|\*/|\*\*(?=\s|$)|\*(?!\*)|///?!?|#+|--|;+)\s?")
_QUOTES = "\"'`<>"
_IMPORT_WORDS = (
    "import",
    "using",
    "use",
    "static",
    "from",
    "require_once",
    "require",
    "include_once",
    "include",
    "namespace",
)
MAX_SIGNATURE = 300
#: Names a chunk of line-sharing definitions is named by: a minified bundle's one line holds
#: hundreds, and a name of all of them matched every name query (the rest are ``+N more``).
MAX_MERGED_NAMES = 8
MAX_RELATIONS = 200
MAX_EXTRACTED = 2000
_ALNUM = re.compile(r"[^\W_]")  # a character str.isalnum() accepts (same Unicode test)
_INTERPOLATION = "interpolation"  # f-string parts (Python): inside a string
#: call node types whose callee is not the text before the arguments
_OWN_CALLEE = frozenset({"command", "macro_invocation"})
#: Longest callee text kept. A longer one (a chain of calls: ``[a].concat(…).map(…).join``)
#: keeps its tail behind ``…``: the base name after the last ``.``, which ``--calls`` and
#: ``filter_index.byCall`` match on, is at the end (cutting the head's end made ``.jo``).
MAX_CALLEE = 120
_FIRST = operator.itemgetter(0)
_SECOND = operator.itemgetter(1)


@dataclass(slots=True)
class _Def:
    kind: str
    name: str
    start_row: int
    end_row: int
    node: tree_sitter.Node
    is_type: bool
    exported: bool
    doc: str = ""
    doc_rows: tuple[int, int] | None = None
    wrapper: tree_sitter.Node | None = None
    signature: str = ""
    info: dict[str, Any] = field(default_factory=dict)


def _squash(text: str) -> str:
    """``_WS.sub(" ", text)``: a text whose only whitespace is single spaces is returned as
    is (the one printable whitespace character is the space: two C tests, no regex)."""
    if text.isprintable() and "  " not in text:
        return text
    return _WS.sub(" ", text)


def _text(src: bytes, node: tree_sitter.Node | None) -> str:
    if node is None:
        return ""
    return src[node.start_byte : node.end_byte].decode("utf-8", "replace")


def _end_row(node: tree_sitter.Node) -> int:
    row, col = node.end_point
    if col == 0 and row > node.start_point[0]:
        return int(row) - 1
    return int(row)


def _clean_comment(text: str) -> str:
    if text.isprintable():  # one line: no line boundary (all unprintable) nor tab in it
        line = _COMMENT_MARK.sub("", text, count=1).rstrip()
        if line.endswith("*/"):
            line = line[:-2].rstrip()
        return line.strip()
    lines = []
    for line in text.splitlines():
        line = _COMMENT_MARK.sub("", line, count=1)
        line = line.rstrip()
        if line.endswith("*/"):
            line = line[:-2].rstrip()
        lines.append(line)
    return "\n".join(line for line in lines).strip()


#: C# XML doc: references written as their target, tags that label a part, tags dropped.
_CS_REF = re.compile(r'<(?:see|seealso|paramref|typeparamref)\s+\w+="(?:[A-Z]:)?([^"]*)"\s*/?>')
_CS_LABEL = re.compile(r'<(?:param|typeparam)\s+name="([^"]*)"\s*>')
_CS_THROWS = re.compile(r'<exception\s+cref="(?:[A-Z]:)?([^"]*)"\s*>')
_CS_TAG = re.compile(
    r"</?(?:summary|remarks|para|c|code|returns|value|example|param|typeparam|exception|list"
    r"|item|description|term|listheader|b|i|br|inheritdoc|see|seealso)\b[^>]*>"
)
#: Javadoc/JSDoc inline tags (``{@link List#add label}`` → label) and HTML markup.
_JD_INLINE = re.compile(r"\{@(?:link|linkplain|code|literal|value)\s+([^}\s]*)(?:\s+([^}]*))?\}")
_JD_HTML = re.compile(
    r"</?(?:p|b|i|em|strong|code|pre|tt|ul|ol|li|br|blockquote|a|h[1-6]|table|tr|td|th|dl|dt"
    r"|dd|sup|sub|span|div)\b[^>]*>",
    re.IGNORECASE,
)
_BLANK_RUNS = re.compile(r"\n\s*\n(?:\s*\n)+")
#: Languages whose doc comments hold C# XML doc or Javadoc-style markup.
_XML_DOC_LANGS = frozenset({"csharp"})
_JAVADOC_LANGS = frozenset({"java", "javascript", "typescript", "tsx", "php", "kotlin", "scala"})


def _plain_doc(lang: str, text: str) -> str:
    """A doc comment as its reader sees it: C# ``<summary>``/``<see cref="X"/>`` and Javadoc
    ``{@link X}``/``<p>`` markup removed, so headlines, docs and the extracted-prose tokens
    hold the words, not ``summary``, ``cref`` and ``link``."""
    if "<" not in text and "{@" not in text:
        return text
    if lang in _XML_DOC_LANGS:
        text = _CS_REF.sub(r"\1", text)
        text = _CS_LABEL.sub(r"\1: ", text)
        text = _CS_THROWS.sub(r"Throws \1: ", text)
        text = text.replace("<returns>", "Returns: ").replace("<value>", "Value: ")
        text = _CS_TAG.sub("", text)
    elif lang in _JAVADOC_LANGS:
        text = _JD_INLINE.sub(lambda m: m.group(2) or m.group(1), text)
        if lang == "java":  # JS/TS docs show JSX and generics as written
            text = _JD_HTML.sub("", text)
    else:
        return text
    if "&" in text:
        text = html.unescape(text)
    lines = [line.rstrip() for line in text.splitlines()]
    return _BLANK_RUNS.sub("\n\n", "\n".join(lines)).strip()


_STRING_PREFIX = re.compile(r"^[rRbBuUfF]{1,2}(?=[\"'])")


_CALLEE_BREAKS = re.compile(r"[{};]")


def _tidy_callee(text: str) -> str:
    """A callee with ``{``, ``}`` or ``;`` in it comes from error recovery over a snippet
    (``Abort()}else{handle``): the call is the part after the last break."""
    return _CALLEE_BREAKS.split(text)[-1]


def _literal_string(node: tree_sitter.Node) -> bool:
    """A string with no interpolation: ``require("fs")``, not ``require(name)`` or
    ``require(`./${name}`)``."""
    return "string" in node.type and not any(
        "interpolation" in c.type or "substitution" in c.type for c in node.named_children
    )


def _strip_string(text: str) -> str:
    t = text.strip()
    for q in ('"""', "'''"):
        if t.startswith(q) and t.endswith(q) and len(t) >= 6:
            return t[3:-3].strip()
    t = _STRING_PREFIX.sub("", t, count=1)  # r"…", b'…', rb"…": only before a quote
    if len(t) >= 2 and t[0] in _QUOTES and t[-1] in _QUOTES:
        return t[1:-1].strip()
    return t


#: Nodes holding modifier words (TS's ``private`` is an ``accessibility_modifier``).
_MODIFIER_NODES = frozenset(
    {"modifiers", "modifier", "visibility_modifier", "access_modifier", "accessibility_modifier"}
)
#: JS/TS class members whose export follows their class's.
_CLASS_MEMBERS = frozenset(
    {"method_definition", "public_field_definition", "field_definition", "method_signature"}
)
#: C# members whose body is their accessors (``{ get; set; }``) or an ``=> expr`` value.
_CS_ACCESSED = frozenset({"property_declaration", "indexer_declaration", "event_declaration"})


def _cs_member_name(node: tree_sitter.Node, src: bytes) -> str | None:
    """The name of a C# member without a ``name`` field, else None: ``this`` (indexer),
    ``operator +``, ``operator int`` (conversion), ``~Type`` (destructor)."""
    t = node.type
    if t == "indexer_declaration":
        return "this"
    if t == "operator_declaration":
        return "operator " + _text(src, node.child_by_field_name("operator"))
    if t == "conversion_operator_declaration":
        return "operator " + _squash(_text(src, node.child_by_field_name("type")))
    if t == "destructor_declaration":
        return "~" + _text(src, node.child_by_field_name("name"))
    return None


def _find_body(node: tree_sitter.Node) -> tree_sitter.Node | None:
    body = node.child_by_field_name("body")
    if body is not None:
        return body
    if node.type == "type_spec":  # Go: the signature stops at a struct's/interface's ``{``
        t = node.child_by_field_name("type")
        if t is not None and t.type in ("struct_type", "interface_type"):
            return next((c for c in t.children if c.type in ("field_declaration_list", "{")), None)
        return None
    if node.type in _CS_ACCESSED:  # C# ``{ get; set; }`` or ``=> expr``
        body = node.child_by_field_name("accessors") or node.child_by_field_name("value")
        if body is not None:
            return body
    for child in node.named_children:
        if child.type in BODY_TYPES:
            return child
    return None


#: JS/TS values that make a variable or class field a function definition.
_FUNCTION_VALUES = frozenset(
    ("arrow_function", "function_expression", "function", "generator_function")
)


def _function_value(node: tree_sitter.Node) -> tree_sitter.Node:
    """The function a JS/TS ``const f = (…) => {…}`` or class field ``m = function (…)``
    defines, else ``node``: its parameters, return type and body are the definition's.

    Without it the declaration has no body field, so the signature ran on through the whole
    function (``const f = async (a) => { // TODO … return res }``) and params were empty.
    """
    t = node.type
    if t in ("public_field_definition", "field_definition"):
        value = node.child_by_field_name("value")
        return value if value is not None and value.type in _FUNCTION_VALUES else node
    assign = _assignment(node)
    if assign is not None:
        right = assign.child_by_field_name("right")
        return right if right is not None and right.type in _FUNCTION_VALUES else node
    if t == "pair":  # { save: function (…) {…} } in an exported object
        value = node.child_by_field_name("value")
        return value if value is not None and value.type in _FUNCTION_VALUES else node
    if t in ("lexical_declaration", "variable_declaration"):
        for decl in node.named_children:
            if decl.type == "variable_declarator":
                value = _unwrap_component(decl.child_by_field_name("value"))
                if value is not None and value.type in _FUNCTION_VALUES:
                    return value
    return node


#: Calls that wrap a React component's function (``React.memo``, MobX ``observer`` …).
_COMPONENT_WRAPPERS = frozenset({"forwardRef", "memo", "observer"})


def _unwrap_component(value: tree_sitter.Node | None) -> tree_sitter.Node | None:
    """The function in ``forwardRef<R, P>(function Button(props, ref) {…})``, ``memo((p)
    => …)`` or ``memo(forwardRef(…))``, else ``value``: a component so defined was a
    line of a ``Module`` chunk, not a function chunk."""
    while value is not None and value.type == "call_expression":
        callee = value.child_by_field_name("function")
        args = value.child_by_field_name("arguments")
        if callee is None or args is None or not args.named_children:
            break
        if callee.type == "member_expression":
            callee = callee.child_by_field_name("property")
        if callee is None or callee.text is None or callee.text.decode() not in _COMPONENT_WRAPPERS:
            break
        value = args.named_children[0]
    return value


def _assignment(node: tree_sitter.Node) -> tree_sitter.Node | None:
    """The ``left = right`` of a JS/TS statement (``module.exports = function …``)."""
    if node.type == "expression_statement" and node.named_child_count == 1:
        node = node.named_children[0]
    return node if node.type == "assignment_expression" else None


#: What a CommonJS export is assigned to.
_EXPORTS = ("module.exports", "exports.")


def _assigned_name(left: str, value: tree_sitter.Node, src: bytes, stem: str) -> tuple[str, bool]:
    """``(name, is_method)`` of a function assigned to ``left`` (CommonJS and prototypes):
    ``Foo.prototype.bar`` → ``Foo.bar`` (a method); ``exports.x``/``module.exports.x`` →
    ``x``; ``module.exports`` → the function's own name, else the file's stem."""
    target = left.replace(" ", "")
    parts = target.split(".")
    if len(parts) >= 3 and parts[-2] == "prototype":
        return ".".join([*parts[:-2], parts[-1]]), True
    if target == "module.exports":
        own = value.child_by_field_name("name")
        return (_text(src, own) if own is not None else stem), False
    if target.startswith(_EXPORTS):
        return parts[-1], False
    return target, False


#: How a long variable value reads in its signature, by node type.
_VALUE_ELISIONS = {
    "object": "{…}",
    "array": "[…]",
    "regex": "/…/",
    "template_string": "`…`",
    "string": '"…"',
    "class": "class {…}",
}
_SHORT_VALUE = 80


def _variable_signature(
    node: tree_sitter.Node,
    wrapper: tree_sitter.Node | None,
    declarators: list[tree_sitter.Node],
    src: bytes,
) -> str:
    """A variable declaration's head: ``export const ZodString: core.$constructor<ZodString>
    = core.$constructor(…)``, ``export const config = {…}``: keywords, each name with its
    type, and its value when short (a long one by its callee or its shape), never the
    object literal or the function passed to a factory."""
    start = (wrapper or node).start_byte
    if not declarators:
        return _squash(_text(src, node)).rstrip(";")[:MAX_SIGNATURE]
    keywords = _squash(src[start : declarators[0].start_byte].decode("utf-8", "replace"))
    parts: list[str] = []
    for decl in declarators:
        name = decl.child_by_field_name("name")
        head_end = decl.child_by_field_name("type") or name
        head = _squash(
            _text(src, decl)
            if head_end is None
            else src[decl.start_byte : head_end.end_byte].decode("utf-8", "replace")
        )
        value = decl.child_by_field_name("value")
        if value is not None:
            raw = _text(src, value)
            if "\n" not in raw and len(raw) <= _SHORT_VALUE:
                head += " = " + _squash(raw)
            elif value.type in ("call_expression", "new_expression"):
                callee = value.child_by_field_name("function") or value.child_by_field_name(
                    "constructor"
                )
                new = "new " if value.type == "new_expression" else ""
                head += f" = {new}{_squash(_text(src, callee))}(…)" if callee else " = …"
            else:
                head += " = " + _VALUE_ELISIONS.get(value.type, "…")
        parts.append(head)
    return f"{keywords.strip()} {', '.join(parts)}".strip()[:MAX_SIGNATURE]


def _c_member_kind(name: str, container: _Def | None) -> str:
    """A C/C++ prototype's kind: a method inside a class or when qualified (``A::f``)."""
    return "MethodDeclaration" if container is not None or "." in name else "FunctionDeclaration"


def _declarator_name(node: tree_sitter.Node, src: bytes) -> str:
    d = node.child_by_field_name("declarator")
    while d is not None:
        if d.type in (
            "identifier",
            "field_identifier",
            "qualified_identifier",
            "destructor_name",
            "operator_name",
            "type_identifier",
        ):
            return _text(src, d).replace("::", ".")
        nxt = d.child_by_field_name("declarator")
        if nxt is None:
            for c in d.named_children:
                if c.type in ("identifier", "field_identifier", "qualified_identifier"):
                    return _text(src, c).replace("::", ".")
        d = nxt
    return ""


#: Rows a prototype may span; a parse swallowing more is not taken for one.
_MAX_RECOVERED_ROWS = 64
_PROTOTYPE_NAMES = frozenset(
    {"identifier", "field_identifier", "qualified_identifier", "destructor_name", "operator_name"}
)


def _is_prototype(node: tree_sitter.Node) -> bool:
    """A C/C++ ``declaration`` of a function (``int f(void);``), not of a variable, nor
    of a pointer to a function (``int (*fp)(void);``, whose declarator is parenthesised).
    Macros can make the grammar read a run of declarations as one (glibc's string.h: a
    110-row "prototype" of ``__nonnull``); one over ``_MAX_RECOVERED_ROWS`` is not taken."""
    if node.end_point[0] - node.start_point[0] >= _MAX_RECOVERED_ROWS:
        return False
    d = node.child_by_field_name("declarator")
    while d is not None and d.type in ("pointer_declarator", "reference_declarator"):
        d = d.child_by_field_name("declarator") or next(
            (c for c in d.named_children if c.type.endswith("declarator")), None
        )
    if d is None or d.type != "function_declarator":
        return False
    inner = d.child_by_field_name("declarator")
    return inner is not None and inner.type in _PROTOTYPE_NAMES


#: Named children that may precede a prototype's declarator in a parse-error node.
_PROTOTYPE_HEAD = frozenset(
    {
        "storage_class_specifier",
        "type_qualifier",
        "primitive_type",
        "type_identifier",
        "sized_type_specifier",
        "struct_specifier",
        "union_specifier",
        "enum_specifier",
        "ms_declspec_modifier",
        "attribute_specifier",
    }
)


def _recovered_prototype(node: tree_sitter.Node) -> tree_sitter.Node | None:
    """The function declarator of a prototype tree-sitter could not parse, else None.

    glibc-style trailing macros (``int f(void) __THROW __nonnull ((1));``) are unknown
    identifiers to the grammar: the declaration comes back as an ``ERROR`` node holding
    the return type and a ``function_declarator``, then an empty statement for the ``;``.
    """
    if node.end_point[0] - node.start_point[0] >= _MAX_RECOVERED_ROWS:
        return None
    typed = False  # fields are not reachable inside an ERROR node: look for a type child
    children = [c for c in node.named_children if c.type != "comment"]
    for i, c in enumerate(children):
        if c.type == "function_declarator":
            inner = c.child_by_field_name("declarator")
            last = i == len(children) - 1  # nothing the grammar gave up on after it
            ok = typed and last and inner is not None and inner.type in _PROTOTYPE_NAMES
            return c if ok else None
        if c.type not in _PROTOTYPE_HEAD:
            return None
        typed = typed or c.type.endswith(("_type", "_type_specifier", "type_identifier"))
        typed = typed or c.type in ("struct_specifier", "union_specifier", "enum_specifier")
    return None


#: Rust type wrappers an impl's name looks through: ``impl<T> Trait for &'a Foo<T>`` → ``Foo``.
_RUST_TYPE_WRAPPERS = frozenset({"generic_type", "reference_type", "pointer_type"})


def _impl_name(node: tree_sitter.Node, src: bytes) -> str:
    """A Rust impl's name: its self type without generic arguments (``Rc<T, A>`` → ``Rc``),
    so its methods are ``Rc.clone`` whatever the impl's parameters and trait."""
    t = node.child_by_field_name("type")
    while t is not None and t.type in _RUST_TYPE_WRAPPERS:
        t = t.child_by_field_name("type")
    return "" if t is None else _squash(_text(src, t)).replace("::", ".")


def _node_name(node: tree_sitter.Node, src: bytes) -> str:
    if node.type == "impl_item":
        return _impl_name(node, src)
    if (cs := _cs_member_name(node, src)) is not None:
        return cs
    n = node.child_by_field_name("name")
    if n is not None:
        return _text(src, n).replace("::", ".")
    name = _declarator_name(node, src)
    if name:
        return name
    t = node.child_by_field_name("type")
    if t is not None:
        return _squash(_text(src, t))
    return ""


def _go_receiver(node: tree_sitter.Node, src: bytes) -> str:
    recv = node.child_by_field_name("receiver")
    if recv is None:
        return ""
    for param in recv.named_children:
        t = param.child_by_field_name("type")
        while t is not None and t.type in ("pointer_type", "generic_type"):
            inner = t.named_children[0] if t.named_children else None
            t = inner
        if t is not None:
            return _text(src, t)
    return ""


def _params(node: tree_sitter.Node, src: bytes) -> tuple[dict[str, Any], ...]:
    p = node.child_by_field_name("parameters")
    if p is None and node.type == "arrow_function":
        single = node.child_by_field_name("parameter")  # ``x => …``
        return () if single is None else ({"name": _text(src, single)},)
    if p is None:
        d = node.child_by_field_name("declarator")
        while d is not None and p is None:
            p = d.child_by_field_name("parameters")
            d = d.child_by_field_name("declarator")
    if p is None and node.type == "record_declaration":  # C# ``record R(int X)``: no field
        p = next((c for c in node.named_children if c.type == "parameter_list"), None)
    if p is None and node.type == "ERROR":  # a recovered C/C++ prototype (no fields)
        fd = next((c for c in node.named_children if c.type == "function_declarator"), None)
        p = None if fd is None else fd.child_by_field_name("parameters")
    if p is None:
        return ()
    out: list[dict[str, Any]] = []
    for c in p.named_children:
        ct = c.type
        if "comment" in ct:
            continue
        entry: dict[str, Any] = {}
        names = c.children_by_field_name("name")
        if len(names) > 1:  # Go's ``old, new bool``: one entry per name, each typed
            typ = _squash(_text(src, c.child_by_field_name("type")))
            out.extend({"name": _text(src, n), "type": typ} for n in names)
            continue
        pattern = c if ct in _JS_PATTERNS else c.child_by_field_name("pattern")
        if pattern is not None and pattern.type in _JS_PATTERNS:
            out.extend({"name": n} for n in _pattern_names(pattern, src))
            continue
        if ct == "identifier":
            entry["name"] = _text(src, c)
        else:
            name_node = (
                c.child_by_field_name("name")
                or c.child_by_field_name("pattern")
                or c.child_by_field_name("declarator")
            )
            if name_node is None:
                for sub in c.named_children:
                    if sub.type in _SPLATS and sub.named_children:  # ``**kwargs: Any``
                        sub = sub.named_children[0]
                    if sub.type in ("identifier", "variable_name"):
                        name_node = sub
                        break
            name = _text(src, name_node) if name_node is not None else _text(src, c)
            entry["name"] = _squash(name).lstrip("*&$.").strip()
            t = c.child_by_field_name("type")
            if t is not None:
                entry["type"] = _squash(_text(src, t)).lstrip(":").strip()
                if ct == "variadic_parameter_declaration":  # Go ``parts ...string``
                    entry["type"] = "..." + entry["type"]
            v = c.child_by_field_name("value") or c.child_by_field_name("default_value")
            if v is not None:
                entry["default"] = _squash(_text(src, v))
        if entry.get("name"):
            out.append(entry)
    return tuple(out[:64])


#: Calls that import their first (string) argument.
_REQUIRES: dict[str, frozenset[str]] = {
    "ruby": frozenset({"require", "require_relative", "load"}),
    "javascript": frozenset({"require"}),  # CommonJS: const fs = require("fs")
    "typescript": frozenset({"require"}),
    "tsx": frozenset({"require"}),
}
#: Python's typed ``*args``/``**kwargs``: the name is inside the splat.
_SPLATS = frozenset({"list_splat_pattern", "dictionary_splat_pattern"})
#: JS/TS destructuring parameters: ``({ open, onClose }: Props)``, ``([a, b])``.
_JS_PATTERNS = frozenset({"object_pattern", "array_pattern"})


def _pattern_names(pattern: tree_sitter.Node, src: bytes) -> list[str]:
    """The names a destructuring parameter takes: an object pattern's keys (what a caller
    passes: ``title`` of ``title: heading``, React's props), an array pattern's bindings,
    a rest element's name. The whole ``{ open, onClose = noop, … }`` was one param name."""
    out: list[str] = []
    for c in pattern.named_children:
        t = c.type
        if t in ("shorthand_property_identifier_pattern", "identifier"):
            out.append(_text(src, c))
        elif t == "pair_pattern":
            out.append(_text(src, c.child_by_field_name("key")))
        elif t in ("object_assignment_pattern", "assignment_pattern"):
            left = c.child_by_field_name("left")
            if left is not None and left.type in _JS_PATTERNS:
                out.extend(_pattern_names(left, src))
            elif left is not None:
                out.append(_text(src, left))
        elif t == "rest_pattern":
            out.extend(_text(src, n) for n in c.named_children if n.type == "identifier")
        elif t in _JS_PATTERNS:
            out.extend(_pattern_names(c, src))
    return [n for n in out if n]


def _returns(node: tree_sitter.Node, src: bytes, lang: str) -> str | None:
    for fld in ("return_type", "result"):
        r = node.child_by_field_name(fld)
        if r is not None:
            return _squash(_text(src, r)).lstrip(":").strip() or None
    if lang in ("java", "c", "cpp", "csharp"):
        r = node.child_by_field_name("type") or node.child_by_field_name("returns")
        if r is not None:
            return _squash(_text(src, r)) or None
    return None


def _decorators(
    def_node: tree_sitter.Node,
    wrapper: tree_sitter.Node | None,
    src: bytes,
    attributes: Iterable[tree_sitter.Node] = (),
) -> tuple[str, ...]:
    """``attributes``: sibling attributes above the definition (Rust), first."""
    out: list[str] = [_squash(_text(src, a)) for a in attributes]
    for holder in (wrapper, def_node):
        if holder is None:
            continue
        for c in holder.named_children:
            if c.type in (
                "decorator",
                "annotation",
                "marker_annotation",
                "attribute_list",
                "attribute_item",
            ):
                groups = [g for g in c.named_children if g.type == "attribute_group"]
                # PHP: one list holds every ``#[…]`` line; each group is a decorator
                out.extend(_squash(_text(src, g)) for g in groups or (c,))
            elif c.type == "modifiers":
                for m in c.named_children:
                    if m.type in ("annotation", "marker_annotation"):
                        out.append(_squash(_text(src, m)))
    return tuple(out)


def _ts_member_decorators(node: tree_sitter.Node) -> list[tree_sitter.Node]:
    """The decorators of a TS class method, in source order.

    tree-sitter-typescript makes a method's decorators children of the class body before
    it, not of the method (JavaScript's grammar nests them): ``@HostListener(…)`` was a
    ``ClassBody`` line of its own or the end of the previous member's chunk, and the
    method had no decorators.
    """
    out: list[tree_sitter.Node] = []
    parent = node.parent
    if parent is None or parent.type != "class_body":
        return out  # a class's own decorators are its export statement's (or its own)
    prev = node.prev_named_sibling
    while prev is not None and prev.type == "decorator":
        out.append(prev)
        prev = prev.prev_named_sibling
    out.reverse()
    return out


def _header(
    node: tree_sitter.Node, src: bytes, body: tree_sitter.Node | None = None, start: int = -1
) -> str:
    """The node's text before its body (``body``: ``_find_body(node)`` when known), from
    ``start`` (a byte offset; the node's start when negative)."""
    if body is None:
        body = _find_body(node)
    end = body.start_byte if body is not None else node.end_byte
    return src[node.start_byte if start < 0 else start : end].decode("utf-8", "replace")


#: Children of a definition, before its keyword, that its signature leaves out.
_SIGNATURE_SKIP = frozenset({"decorator", "attribute_list"})


def _signature_start(node: tree_sitter.Node) -> int:
    """The byte where a JS/TS/PHP definition's signature starts: after the decorators or
    attributes these grammars make its own children (``@Component({…}) class B``, ``@A()
    bar()``, ``#[Route('/x')] public function show``, ``@Injectable() export class S``'s
    export statement)."""
    start = node.start_byte
    for c in node.children:
        if c.type in _SIGNATURE_SKIP:
            start = c.end_byte
        elif c.type != "comment":
            break
    return start


#: JS/TS statements whose words before the definition are its signature's.
_SIGNATURE_WRAPPERS = frozenset({"export_statement", "ambient_declaration"})


def _wrapper_words(node: tree_sitter.Node, wrapper: tree_sitter.Node | None, src: bytes) -> str:
    """The words a JS/TS definition's wrapper writes before it, which start its signature
    as the source writes them: ``export``, ``export default``, ``declare``, ``export
    declare`` (every exported declaration alike: ``export function q``, ``export default
    class App``, ``export const f = (…) =>``, ``export declare class C``); the wrapper's
    decorators are not signature text."""
    if wrapper is None or wrapper.type not in _SIGNATURE_WRAPPERS:
        return ""
    start = _signature_start(wrapper)
    if start >= node.start_byte:
        return ""
    return src[start : node.start_byte].decode("utf-8", "replace")


def _alias_signature(node: tree_sitter.Node, words: str, src: bytes) -> str:
    """A TS type alias's signature: the whole declaration when it fits in a signature
    (``type Opt = { a: number }``, ``export type Id = string | number``; the value's ``{``
    is no body to stop at), else its head through ``=`` and the value's first line
    (``export type Routes = {``)."""
    start = _signature_start(node)
    whole = _squash(words + src[start : node.end_byte].decode("utf-8", "replace")).rstrip(";")
    value = node.child_by_field_name("value")
    if len(whole) <= MAX_SIGNATURE or value is None:
        return whole.strip()
    line_end = src.find(b"\n", value.start_byte, value.end_byte)
    first = src[value.start_byte : line_end if line_end >= 0 else value.end_byte]
    head = words + src[start : value.start_byte].decode("utf-8", "replace")
    return _squash(head + first.decode("utf-8", "replace")).strip()[:MAX_SIGNATURE]


#: Ruby header children after which the header ends (``def f = expr``, ``def f; end``).
_RUBY_HEADER_STOPS = frozenset({"comment", "end", "=", ";"})


def _ruby_header(node: tree_sitter.Node, src: bytes) -> str:
    """A Ruby definition's text up to its name, superclass or parameters.

    The grammar keeps the comments between a header and its body inside the definition,
    and an empty method has no body: the text before the body ran on into those comments
    (``module Cache # A cache store …``) or through ``end`` (``def clear(x) end``).
    """
    body = node.child_by_field_name("body")
    end = node.start_byte
    for c in node.children:
        if c.type in _RUBY_HEADER_STOPS or (body is not None and c.id == body.id):
            break
        end = c.end_byte
    return src[node.start_byte : end].decode("utf-8", "replace")


def _node_kinds(lang: str) -> list[str]:
    """The node types ``walk`` looks at, in its precedence order."""
    table = TABLES[lang]
    kinds = [*sorted(table.comments)]
    if table.docstrings:
        kinds.append("string")
    kinds.extend(sorted(table.calls))
    kinds.extend(sorted(table.imports))
    return kinds


@cache
def _relations_query(lang: str) -> tree_sitter.Query | None:
    """``[(kind) …] @n`` over the kinds the grammar has (named or anonymous).

    Docstring languages capture only the strings that can be docstrings (a direct child
    of an expression statement) and, as opaque regions, f-string interpolations: every
    other string only hid the calls (and strings) inside its interpolations, and
    capturing each of them was most of the query's nodes.
    """
    grammar = language(lang)
    docstrings = TABLES[lang].docstrings
    parts: list[str] = []
    for kind in dict.fromkeys(_node_kinds(lang)):
        named = grammar.id_for_node_kind(kind, True) is not None
        if named and not (docstrings and kind == "string"):
            parts.append(f"({kind})")
        if grammar.id_for_node_kind(kind, False) is not None:
            parts.append('"' + kind.replace("\\", "\\\\").replace('"', '\\"') + '"')
    patterns = ["[" + " ".join(parts) + "] @n"] if parts else []
    if docstrings and grammar.id_for_node_kind("string", True) is not None:
        patterns.append("(expression_statement (string) @n)")
        if grammar.id_for_node_kind(_INTERPOLATION, True) is not None:
            patterns.append(f"({_INTERPOLATION}) @n")
    if not patterns:
        return None
    return tree_sitter.Query(grammar, "\n".join(patterns))


def _depth(node: tree_sitter.Node) -> int:
    d = 0
    p = node.parent
    while p is not None:
        d += 1
        p = p.parent
    return d


def _preorder(nodes: list[tree_sitter.Node]) -> list[tree_sitter.Node]:
    """Captured nodes in tree pre-order: by start, outer first (equal spans: by depth)."""
    # (start, -end) as one int (ends are below 2**32): int keys hash and compare in C
    # faster than tuples, and the order sorts indexes by a C key function
    keys = [(n.start_byte << 32) - n.end_byte for n in nodes]
    if len(set(keys)) == len(keys):
        return list(map(nodes.__getitem__, sorted(range(len(nodes)), key=keys.__getitem__)))
    return sorted(nodes, key=lambda n: (n.start_byte, -n.end_byte, _depth(n)))


#: TS declarations without a body: overload signatures of the definition after them.
_TS_SIGNATURES = frozenset({"function_signature", "method_signature", "abstract_method_signature"})
#: Ruby calls that take a ``def`` (``private def x``), and the visibility they give it.
_RUBY_VISIBILITY = {
    "private": "private",
    "protected": "protected",
    "public": "public",
    "private_class_method": "private",
    "public_class_method": "public",
}
#: Bare words that set the visibility of the ``def`` statements after them.
_RUBY_SECTIONS = frozenset({"private", "protected", "public"})


def _ruby_wrapped_def(node: tree_sitter.Node, src: bytes) -> tree_sitter.Node | None:
    """The method of ``private def x … end`` (any receiverless call whose one argument is
    a ``def``: ``memoize def x``, ``helper_method def y``), or the definition of ``private
    attr_reader :x`` / ``private define_method(:y) do … end`` (Ruby 3 returns the names),
    else None: the grammar makes the method an argument, and the walk never looked inside
    calls, so it had no chunk."""
    if node.child_by_field_name("receiver") is not None:
        return None
    args = node.child_by_field_name("arguments")
    if args is None or args.named_child_count != 1:
        return None
    arg = args.named_children[0]
    if arg.type in ("method", "singleton_method"):
        return arg
    return arg if arg.type == "call" and _ruby_defining_call(arg, src) is not None else None


#: Receiverless calls that define attribute methods, and whether they are class-level
#: (``cattr_*``/``mattr_*``, ActiveSupport's ``class_attribute``).
_RUBY_ATTRS = {
    "attr": False,
    "attr_reader": False,
    "attr_writer": False,
    "attr_accessor": False,
    "cattr_reader": True,
    "cattr_writer": True,
    "cattr_accessor": True,
    "mattr_reader": True,
    "mattr_writer": True,
    "mattr_accessor": True,
    "class_attribute": True,
}
#: Calls that define one method from a block (or a method object), by a literal name.
_RUBY_DEFINE_METHOD = {"define_method": False, "define_singleton_method": True}


def _ruby_symbol_name(node: tree_sitter.Node, src: bytes) -> str | None:
    """The name a literal ``:name``, ``:"name"``, ``"name"`` or ``'name'`` argument gives, else
    None (an interpolated ``"#{attr}="`` or a variable: no name known before run time)."""
    t = node.type
    if t == "simple_symbol":
        return _text(src, node)[1:] or None
    if t in ("delimited_symbol", "string") and all(
        c.type == "string_content" for c in node.named_children
    ):
        text = "".join(_text(src, c) for c in node.named_children)
        return text or None
    return None


def _ruby_defining_call(node: tree_sitter.Node, src: bytes) -> tuple[str, list[str]] | None:
    """``(kind, names)`` when a Ruby call defines methods by literal names, else None:
    ``attr_accessor :a, :b`` → ``("PropertyDeclaration", ["a", "b"])``, ``define_method(:x)
    do |y| … end`` → ``("MethodDeclaration", ["x"])``. Options (``class_attribute :x,
    instance_writer: false``) are skipped; one non-literal name (``attr_reader *FIELDS``,
    ``define_method("#{n}?")``) and the call defines nothing known."""
    if node.child_by_field_name("receiver") is not None:
        return None
    word = _text(src, node.child_by_field_name("method"))
    if word not in _RUBY_ATTRS and word not in _RUBY_DEFINE_METHOD:
        return None
    args = node.child_by_field_name("arguments")
    if args is None:
        return None
    values = [c for c in args.named_children if c.type not in ("pair", "comment")]
    if word in _RUBY_DEFINE_METHOD:
        values = values[:1]  # define_method(:x, instance_method(:y)): the name comes first
    names = [_ruby_symbol_name(v, src) for v in values]
    if not names or None in names:
        return None
    kind = "MethodDeclaration" if word in _RUBY_DEFINE_METHOD else "PropertyDeclaration"
    return kind, [n for n in names if n]


#: Calls whose block's definitions belong to the enclosing class or module (ActiveSupport
#: concerns: ``included do … end``, ``class_methods do … end``, ``concerning :X do``) or to
#: their receiver (``User.class_eval do … end``), and whether those are class methods.
_RUBY_SCOPE_BLOCKS = {
    "included": False,
    "prepended": False,
    "class_methods": True,
    "concerning": False,
    "class_eval": False,
    "class_exec": False,
    "module_eval": False,
    "module_exec": False,
}
_RUBY_REOPENERS = {
    "class_eval": "ClassDeclaration",
    "class_exec": "ClassDeclaration",
    "module_eval": "ModuleDeclaration",
    "module_exec": "ModuleDeclaration",
}


def _ruby_scope_block(
    node: tree_sitter.Node, src: bytes
) -> tuple[str, tree_sitter.Node | None, tree_sitter.Node] | None:
    """``(word, receiver, body)`` of ``included do … end`` and its kin (``_RUBY_SCOPE_BLOCKS``):
    the receiver is None for a receiverless call (or ``self.class_eval``), else a constant
    (``User.class_eval``); None for any other call, or one whose receiver is not a constant
    (``base.class_eval`` names no type)."""
    word = _text(src, node.child_by_field_name("method"))
    if word not in _RUBY_SCOPE_BLOCKS:
        return None
    block = node.child_by_field_name("block")
    body = None if block is None else block.child_by_field_name("body")
    if body is None:
        return None
    receiver = node.child_by_field_name("receiver")
    if receiver is not None and receiver.type == "self":
        receiver = None
    if receiver is not None and (
        word not in _RUBY_REOPENERS or receiver.type not in ("constant", "scope_resolution")
    ):
        return None
    return word, receiver, body


def _ruby_block_word(body: tree_sitter.Node | None, src: bytes) -> str:
    """The method of the call whose block ``body`` is (``class_methods``), else ``""``."""
    block = None if body is None else body.parent
    call = None if block is None else block.parent
    if block is None or call is None or block.type not in ("do_block", "block"):
        return ""
    return _text(src, call.child_by_field_name("method")) if call.type == "call" else ""


def _ruby_call_header(node: tree_sitter.Node, src: bytes) -> str:
    """A defining call's text up to its block's parameters (``define_method(:x) do |a|``),
    the whole call when it has no block (``attr_reader :a, :b``)."""
    block = node.child_by_field_name("block")
    if block is None:
        return _text(src, node)
    params = block.child_by_field_name("parameters")
    opener = params if params is not None else block.child(0)
    end = opener.end_byte if opener is not None else block.start_byte
    return src[node.start_byte : end].decode("utf-8", "replace")


def _ruby_class_method(
    node: tree_sitter.Node, wrapper: tree_sitter.Node | None, src: bytes
) -> bool:
    """``def self.x`` or a ``def`` inside ``class << self``: a class method (static); so are
    ``define_singleton_method``'s and ``cattr_*``/``mattr_*``/``class_attribute``'s."""
    if node.type == "singleton_method":
        return True
    if node.type == "call":
        word = _text(src, node.child_by_field_name("method"))
        if _RUBY_ATTRS.get(word) or _RUBY_DEFINE_METHOD.get(word):
            return True
    body = (wrapper or node).parent
    if _RUBY_SCOPE_BLOCKS.get(_ruby_block_word(body, src)):  # class_methods do … end
        return True
    return body is not None and body.parent is not None and body.parent.type == "singleton_class"


class _Chunker:
    """One file's pass: find definitions, walk once for relations, assign rows."""

    def __init__(
        self,
        lang: str,
        table: NodeTable,
        src: bytes,
        lines: list[str],
        stem: str,
        limits: ChunkingLimits | None = None,
    ) -> None:
        self.lang = lang
        self.limits = limits or ChunkingLimits()
        self.table = table
        self.src = src
        self.lines = lines
        self.stem = stem
        self.defs: list[_Def] = []
        self.parents: list[int | None] = []
        self.module_all: frozenset[str] | None = None
        self._ruby_sections: dict[int, list[tuple[int, str]]] = {}
        #: A ``.d.ts`` (``.d.mts``, ``.d.cts``): its top-level declarations are its API.
        self.ambient_file = lang in ("typescript", "tsx") and stem.endswith(".d")
        #: JS/TS names a module exports apart from their declaration: ``export default
        #: axios;``, ``export { a, b as c };``, ``module.exports = axios;``.
        self.local_exports: frozenset[str] = frozenset()
        #: Rows of annotation and banner comments above a definition: in its rows, not
        #: its doc (``notdoc``).
        self.not_doc_rows: set[int] = set()

    # -- definitions ---------------------------------------------------------------------
    def _leading_doc(self, node: tree_sitter.Node) -> tuple[str, tuple[int, int] | None]:
        parts: list[str] = []
        first: int | None = None
        last: int | None = None
        cur = node
        prev = self._doc_sibling(cur)
        comments, attributes = self.table.comments, self.table.attributes
        while prev is not None and (prev.type in comments or prev.type in attributes):
            if _end_row(prev) < cur.start_point[0] - 1:
                break
            if prev.start_byte == 0 and self.src.startswith(b"#!"):
                break  # a script's interpreter line is no function's doc
            row, col = prev.start_point
            if self.lines[row][:col].strip():
                break
            if prev.type in comments:  # a Rust line comment holds its newline
                text = _text(self.src, prev).rstrip("\r\n")
                if (plain := _clean_comment(text)) and not_doc(plain):
                    # ``/*@__NO_SIDE_EFFECTS__*/``, ``// eslint-disable-next-line``, a
                    # ``//// ZodBase64 ////`` banner: in the chunk, not its doc (a banner's
                    # words stay in its comment text; a bare rule has none)
                    if _ALNUM.search(plain):
                        self.not_doc_rows.update(range(int(row), _end_row(prev) + 1))
                else:
                    parts.append(text)
            first = int(row)
            if last is None:
                last = _end_row(prev)
            cur = prev
            prev = cur.prev_named_sibling
        if first is None or last is None:
            return "", None
        if not parts:
            return "", (first, last)
        parts.reverse()
        return _plain_doc(self.lang, _clean_comment("\n".join(parts))), (first, last)

    def _attributes(self, node: tree_sitter.Node) -> list[tree_sitter.Node]:
        """The attribute siblings right above ``node`` (comments between them skipped), in
        source order: Rust's ``/// doc`` + ``#[inline]`` + ``fn``, where the doc was lost
        to the run above because the attribute, not a comment, preceded the item."""
        out: list[tree_sitter.Node] = []
        prev = node.prev_named_sibling
        attributes = self.table.attributes
        while prev is not None and (prev.type in attributes or prev.type in self.table.comments):
            if prev.type in attributes:
                out.append(prev)
            prev = prev.prev_named_sibling
        out.reverse()
        return out

    def _doc_sibling(self, node: tree_sitter.Node) -> tree_sitter.Node | None:
        """The node before ``node`` that may be its doc comment.

        Ruby keeps the comments between a class or module header and its first statement
        outside the body: a class nested first in a module (every RuboCop cop) had its doc
        comment in the module's header chunk. Those comments precede the body itself.
        """
        prev = node.prev_named_sibling
        parent = node.parent
        if (
            prev is None
            and self.lang == "ruby"
            and parent is not None
            and parent.type == "body_statement"
            and parent.start_byte == node.start_byte
        ):
            return parent.prev_named_sibling
        return prev

    def _python_docstring(self, body: tree_sitter.Node | None) -> str:
        """The docstring opening ``body`` (a definition's ``_find_body``)."""
        # named_child(0): not a list of every statement of the body
        first = body.named_child(0) if body is not None else None
        if first is None:
            return ""
        if first.type == "expression_statement" and first.named_child_count:
            s = first.named_child(0)
            assert s is not None
            if s.type == "string":
                return _strip_string(_text(self.src, s))
        return ""

    def _exported(
        self,
        node: tree_sitter.Node,
        name: str,
        wrapper: tree_sitter.Node | None,
        container: _Def | None,
    ) -> bool:
        lang = self.lang
        base = name.rsplit(".", 1)[-1]
        if lang in ("javascript", "typescript", "tsx"):
            if wrapper is not None and wrapper.type == "export_statement":
                return True
            if container is not None and container.is_type and node.type in _CLASS_MEMBERS:
                # a method is part of its class's API unless private (TS or ``#name``)
                hidden = {"private", "protected"} & set(self._modifier_words(node))
                return container.exported and not hidden and not base.startswith("#")
            if container is None and name in self.local_exports:
                return True  # function f() {…} … export default f;
            if self._ambient_api(wrapper or node):
                return True
            assign = _assignment(node)  # CommonJS: module.exports = …, exports.x = …
            left = "" if assign is None else _text(self.src, assign.child_by_field_name("left"))
            return left.replace(" ", "").startswith(_EXPORTS)
        if lang == "rust":
            if node.type == "macro_definition":  # no `pub`: #[macro_export] exports it
                return any(b"macro_export" in a.text for a in self._attributes(node) if a.text)
            return any(c.type == "visibility_modifier" for c in node.named_children)
        if lang == "go":
            return bool(base) and base[0].isupper()
        if lang in ("java", "csharp"):
            words = self._modifier_words(node)
            if container is not None and container.kind == "InterfaceDeclaration":
                return container.exported and "private" not in words  # implicitly public
            return "public" in words
        if lang == "php" and container is not None:
            return not {"private", "protected"} & set(self._modifier_words(node))
        if lang == "python":
            if self.module_all is not None and container is None:
                return base in self.module_all
            return not base.startswith("_")
        if lang in ("c", "cpp"):
            return "static" not in _header(node, self.src).split()
        if lang == "ruby":
            return self._ruby_visibility(node, wrapper) not in ("private", "protected")
        return True

    def _ambient_api(self, node: tree_sitter.Node) -> bool:
        """A TS declaration that is its module's API without an ``export`` of its own: at
        the top level of a ``.d.ts``, or in the body of a ``declare module "x" { … }`` /
        ``declare namespace N { … }`` / ``declare global { … }`` (ambient bodies export
        every declaration). ``declare function f()`` at the top of a ``.ts`` declares a
        global defined elsewhere: not this module's export."""
        body_seen = False
        p = node.parent
        while p is not None:
            t = p.type
            if t == "program":
                return self.ambient_file
            if t == "statement_block":
                body_seen = True
            elif t == "ambient_declaration" and body_seen:
                return True
            p = p.parent
        return False

    def _local_exports(self, root: tree_sitter.Node) -> frozenset[str]:
        """Names exported by a statement other than their declaration (``export default
        axios;``, ``export { a, b as c };`` without ``from``, ``module.exports = axios;``,
        TS ``export = axios;``)."""
        out: set[str] = set()
        for c in root.named_children:
            if c.type == "export_statement" and c.child_by_field_name("source") is None:
                value = c.child_by_field_name("value")
                if value is not None and value.type == "identifier":
                    out.add(_text(self.src, value))
                for clause in c.named_children:
                    if clause.type == "export_clause":
                        for spec in clause.named_children:
                            name = spec.child_by_field_name("name")
                            if spec.type == "export_specifier" and name is not None:
                                out.add(_strip_string(_text(self.src, name)))
                    elif clause.type == "identifier" and value is None:  # export = axios;
                        out.add(_text(self.src, clause))
            elif (assign := _assignment(c)) is not None:
                left = _text(self.src, assign.child_by_field_name("left")).replace(" ", "")
                right = assign.child_by_field_name("right")
                if left == "module.exports" and right is not None and right.type == "identifier":
                    out.add(_text(self.src, right))
        return frozenset(out)

    def _add_variable(
        self,
        node: tree_sitter.Node,
        wrapper: tree_sitter.Node | None,
        container: int | None,
        prefix: str,
    ) -> None:
        """An exported ``const``/``let``/``var`` (``export const email: RegExp = /…/``,
        zod's ``export const ZodString = core.$constructor(…)``, ``const axios = …; export
        default axios``, a ``.d.ts`` ``declare const``) as a ``VariableDeclaration`` chunk
        named by every name it binds. Others stay lines of their ``Module`` chunk, as
        module-level variables do in every language: a file of small constants would
        otherwise be hundreds of one-line chunks."""
        declarators = [c for c in node.named_children if c.type == "variable_declarator"]
        names: list[str] = []
        for decl in declarators:
            target = decl.child_by_field_name("name")
            if target is None:
                continue
            if target.type in _JS_PATTERNS:  # export const { a, b } = obj
                names.extend(_pattern_names(target, self.src))
            else:
                names.append(_text(self.src, target))
        names = [n for n in dict.fromkeys(names) if n]
        if not names:
            return
        exported = (
            (wrapper is not None and wrapper.type == "export_statement")
            or (container is None and any(n in self.local_exports for n in names))
            or self._ambient_api(wrapper or node)
        )
        if not exported:
            return
        full = [prefix + n for n in names]
        idx = self._add(node, "VariableDeclaration", ", ".join(full), False, wrapper, container)
        d = self.defs[idx]
        d.exported = True
        if len(full) > 1:
            d.info["names"] = tuple(full)
        d.info["params"] = ()
        d.info["returns"] = None
        d.signature = _variable_signature(node, wrapper, declarators, self.src)

    def _modifier_words(self, node: tree_sitter.Node) -> list[str]:
        words: list[str] = []
        for c in node.children:
            if c.type in _MODIFIER_NODES:
                words.extend(_text(self.src, c).split())
            elif not c.is_named and c.type.isalpha():
                words.append(c.type)
            elif c.is_named and c.type in ("identifier", "name", "type_identifier"):
                break
        return words

    def _modifiers(self, d: _Def) -> dict[str, Any]:
        head = d.signature.split("(")[0].split()
        words = set(self._modifier_words(d.node)) | set(head)
        visibility: str | None = None
        for v in ("public", "private", "protected", "internal"):
            if v in words:
                visibility = v
                break
        if (
            visibility is None
            and self.lang == "rust"
            and any(c.type == "visibility_modifier" for c in d.node.named_children)
        ):
            visibility = "public"
        static = "static" in words
        if self.lang == "ruby":
            visibility = self._ruby_visibility(d.node, d.wrapper)
            static = _ruby_class_method(d.node, d.wrapper, self.src)
        return {
            "async": "async" in words,
            "static": static,
            "exported": d.exported,
            "visibility": visibility,
        }

    def _ruby_visibility(
        self, node: tree_sitter.Node, wrapper: tree_sitter.Node | None
    ) -> str | None:
        """A Ruby method's visibility: ``private def x`` or the last bare ``private`` /
        ``protected`` / ``public`` before it in its body (``def self.x`` is not affected
        by those)."""
        if wrapper is not None and wrapper.type == "call":
            word = _text(self.src, wrapper.child_by_field_name("method"))
            if word in _RUBY_VISIBILITY:
                return _RUBY_VISIBILITY[word]
        holder = wrapper or node
        body = holder.parent
        if node.type == "singleton_method" or body is None:
            return None
        marks = self._ruby_sections.get(body.id)
        if marks is None:  # once per body: a scan back per method was quadratic
            marks = self._ruby_sections[body.id] = [
                (c.start_byte, word)
                for c in body.named_children
                if c.type == "identifier" and (word := _text(self.src, c)) in _RUBY_SECTIONS
            ]
        i = bisect.bisect_left(marks, (holder.start_byte, ""))
        return marks[i - 1][1] if i else None

    def _add(
        self,
        node: tree_sitter.Node,
        kind: str,
        name: str,
        is_type: bool,
        wrapper: tree_sitter.Node | None,
        container: int | None,
    ) -> int:
        outer = wrapper if wrapper is not None else node
        decos = _ts_member_decorators(node) if self.lang in ("typescript", "tsx") else []
        anchor = decos[0] if decos else outer
        start = int(anchor.start_point[0])
        doc = ""
        doc_rows: tuple[int, int] | None = None
        body = _find_body(_function_value(node))
        if self.table.docstrings:
            doc = self._python_docstring(body)
        lead, rows = self._leading_doc(anchor)
        if rows is not None:
            start = rows[0]
            doc_rows = rows
            if not doc:
                doc = lead
        cont = self.defs[container] if container is not None else None
        words = ""  # JS/TS: ``export``, ``export default``, ``declare`` before the node
        if self.lang == "ruby":
            if node.type == "call":
                header = _ruby_call_header(node, self.src)
            else:
                header = _ruby_header(node, self.src)
        elif self.lang in ("javascript", "typescript", "tsx", "php"):
            words = _wrapper_words(node, wrapper, self.src)
            header = words + _header(node, self.src, body, _signature_start(node))
        else:
            header = _header(node, self.src, body)
        sig = " ".join(header.split())  # = _WS.sub(" ", header).strip()
        if self.lang == "python":
            sig = sig.rstrip(":").strip()
        elif node.type == "type_alias_declaration" and self.lang in ("typescript", "tsx"):
            sig = _alias_signature(node, words, self.src)
        elif sig.endswith(("{", ";")):  # ``;``: a C/C++ prototype
            sig = sig[:-1].rstrip()
        elif node.type == "macro_definition":  # macro_rules! m ( … ) / [ … ]
            sig = sig.rstrip("([").rstrip()
        if self.lang == "go" and node.type in ("type_spec", "type_alias"):
            sig = "type " + sig  # the keyword is the group's (grouped specs share one)
        d = _Def(
            kind=kind,
            name=name,
            start_row=start,
            end_row=_end_row(outer),
            node=node,
            is_type=is_type,
            exported=self._exported(node, name, wrapper, cont),
            doc=doc,
            doc_rows=doc_rows,
            wrapper=wrapper,
            signature=sig[:MAX_SIGNATURE],
        )
        if decos:
            d.info["decorators"] = tuple(_squash(_text(self.src, c)) for c in decos)
        self.defs.append(d)
        self.parents.append(container)
        return len(self.defs) - 1

    def _merge_defs(self) -> None:
        """Definitions that are one chunk: TS overloads, and siblings sharing a line.

        TS: ``f(a: string): string; f(a: number): number; f(a: any) {…}`` (or a class's
        ``m(…): T;`` signatures before ``m(…) {…}``) was a chunk per signature, three results
        of one name. A run of consecutive definitions of one name and container whose
        members before the last are bodiless signatures becomes the last one's chunk, from
        the first signature; signatures with no implementation (``declare function`` in a
        ``.d.ts``, interface methods) merge the same way: one declaration chunk per name.

        Any language: sibling definitions on one line (``log() { …; }; die() { …; }``) each
        owned the rows they shared in turn, and the last took them: the first had no chunk.
        A line is in exactly one chunk (§4), so they become one, named by all of them
        (``log, die``).
        """
        self._fold_header_members()
        defs, parents = self.defs, self.parents
        groups: list[list[int]] = []
        group_end = -1
        for i, d in enumerate(defs):
            if groups:
                g = groups[-1]
                last = defs[g[-1]]
                same_parent = parents[g[-1]] == parents[i]
                if same_parent and (
                    d.start_row <= group_end
                    or (
                        last.node.type in _TS_SIGNATURES
                        and (last.name, last.kind) == (d.name, d.kind)
                    )
                ):
                    g.append(i)
                    group_end = max(group_end, d.end_row)
                    continue
            groups.append([i])
            group_end = d.end_row
        if all(len(g) == 1 for g in groups):
            return
        new_index: dict[int, int] = {}
        kept: list[_Def] = []
        kept_parents: list[int | None] = []
        for g in groups:
            members = [defs[i] for i in g]
            d = members[-1] if len({m.name for m in members}) == 1 else members[0]
            # a type and a function on one line (``class A {}; function b() {}``): the
            # type's chunk, so what follows its members is its ClassBody
            d = next((m for m in members if m.is_type), d)
            if len(g) > 1:
                self._merge_into(d, members)
            for i in g:
                new_index[i] = len(kept)
            kept.append(d)
            kept_parents.append(parents[g[0]])
        self.defs = kept
        self.parents = [None if p is None else new_index[p] for p in kept_parents]

    def _fold_header_members(self) -> None:
        """Members on their type's header line (``declare class K { m(): void; }``,
        ``interface P { a: string; b(): void }``) are the type's chunk: innermost owner
        first, they took the line and the type had no chunk, while a line is in exactly
        one chunk (§4) and the type is what the line declares. The type keeps its name and
        kind; its signature records the members' (``declare class K { m(): void }``),
        as a one-line type's text is otherwise cut at its body."""
        defs, parents = self.defs, self.parents
        into: list[int] = list(range(len(defs)))  # where each definition went (preorder)
        header_rows: dict[int, int] = {}
        folded: dict[int, list[_Def]] = {}
        for i, d in enumerate(defs):
            p = parents[i]
            if p is None or not defs[p].is_type:
                continue
            row = header_rows.get(p)
            if row is None:
                row = header_rows[p] = self._header_row(defs[p].node)
            if d.start_row <= row:
                into[i] = into[p]
                folded.setdefault(into[p], []).append(d)
        if not folded:
            return
        for t, members in folded.items():
            typ = defs[t]
            typ.end_row = max(typ.end_row, *(m.end_row for m in members))
            sigs = "; ".join(dict.fromkeys(m.signature for m in members if m.signature))
            if sigs:  # Ruby: ``class Foo; def x``, as it is written
                sig = (
                    f"{typ.signature}; {sigs}"
                    if self.lang == "ruby"
                    else f"{typ.signature} {{ {sigs} }}"
                )
                typ.signature = sig[:MAX_SIGNATURE]
            typ.info["doc_rows"] = (
                *typ.info.get("doc_rows", ()),
                *(m.doc_rows for m in members if m.doc_rows is not None),
            )
        new_index: dict[int, int] = {}
        for i in range(len(defs)):
            if into[i] == i:
                new_index[i] = len(new_index)
        self.parents = [
            None if p is None else new_index[into[p]] for i, p in enumerate(parents) if into[i] == i
        ]
        self.defs = [d for i, d in enumerate(defs) if into[i] == i]

    def _header_row(self, node: tree_sitter.Node) -> int:
        """The row a type's header ends on: that of the last child before its body (the
        ``{`` row when there is none), not the body's own start (Python's and Ruby's body
        starts at its first statement)."""
        body = _find_body(node)
        if body is None:
            return int(node.start_point[0])
        prev = body.prev_sibling
        while prev is not None and prev.type == "comment":
            prev = prev.prev_sibling
        if prev is None or prev.parent is None or prev.parent != body.parent:
            return int(body.start_point[0])
        return int(prev.end_point[0])

    def _merge_into(self, d: _Def, members: list[_Def]) -> None:
        """Fold ``members`` (source order) into ``d``, one of them (see ``_merge_defs``): its
        ``signature`` joins every member's, its params are an implementation's and then each
        name the others add, its ``returns`` the distinct return types joined by `` | ``,
        its ``doc`` the JSDoc ones first."""
        # the file exports the names the source exports (``class A {}; export function
        # b() {}`` exports ``b``), not every name of the chunk
        exported = tuple(
            dict.fromkeys(
                n
                for m in members
                if m.exported
                for n in m.info.get("exported_names") or m.info.get("names") or (m.name,)
            )
        )
        names = list(dict.fromkeys(m.name for m in members))
        if len(names) > MAX_MERGED_NAMES:
            more = len(names) - MAX_MERGED_NAMES
            names = names[:MAX_MERGED_NAMES]
            d.name = ", ".join(names) + f" (+{more} more)"
        else:
            d.name = ", ".join(names)
        d.info["names"] = tuple(names)
        d.start_row = min(m.start_row for m in members)
        d.end_row = max(m.end_row for m in members)
        d.info["doc_rows"] = tuple(
            m.doc_rows for m in members if m is not d and m.doc_rows is not None
        )
        sigs = list(dict.fromkeys(m.signature for m in members if m.signature))
        d.signature = "; ".join(sigs)[:MAX_SIGNATURE]
        jsdoc = [
            m.doc
            for m in members
            if m.doc and m.doc_rows and self.lines[m.doc_rows[0]].lstrip().startswith("/**")
        ]
        docs = dict.fromkeys([*jsdoc, *(m.doc for m in members if m.doc)])
        d.doc = "\n\n".join(docs)
        d.exported = any(m.exported for m in members)
        d.info["exported_names"] = exported
        # an implementation's own params first (its chunk's code), then the names only
        # its overloads use
        implemented = d is members[-1] and d.node.type not in _TS_SIGNATURES
        order = [d, *members[:-1]] if implemented else members
        params: list[dict[str, Any]] = []
        seen: set[str] = set()
        for m in order:
            value = m.info.get("value") or _function_value(m.node)
            for p in m.info.get("params") or _params(value, self.src):
                if p["name"] not in seen:
                    seen.add(p["name"])
                    params.append(p)
        d.info["params"] = tuple(params[:64])
        returns = [_returns(_function_value(m.node), self.src, self.lang) for m in members]
        d.info["returns"] = " | ".join(dict.fromkeys(r for r in returns if r)) or None

    def _type_kind(self, node: tree_sitter.Node) -> str:
        kind = self.table.types[node.type]
        if self.lang == "go" and node.type == "type_spec":
            t = node.child_by_field_name("type")
            if t is not None and t.type == "struct_type":
                return "StructDeclaration"
            if t is not None and t.type == "interface_type":
                return "InterfaceDeclaration"
        return kind

    def _exported_object(self, node: tree_sitter.Node) -> tree_sitter.Node | None:
        """The object literal a module exports (``export default {…}``, ``module.exports =
        {…}``): ESLint rules, webpack loaders and Vue options keep their code in its
        functions."""
        if node.type == "object":
            parent = node.parent
            return node if parent is not None and parent.type == "export_statement" else None
        assign = _assignment(node)
        if assign is None:
            return None
        left = _text(self.src, assign.child_by_field_name("left")).replace(" ", "")
        right = assign.child_by_field_name("right")
        return (
            right
            if left == "module.exports" and right is not None and right.type == "object"
            else None
        )

    def _add_object_functions(self, obj: tree_sitter.Node, container: int | None) -> None:
        """An exported object's own functions (``create(context) {…}``, ``save: function
        …``) as exported function chunks named by their key."""
        for m in obj.named_children:
            key: tree_sitter.Node | None = None
            if m.type == "method_definition":
                key = m.child_by_field_name("name")
            elif m.type == "pair" and _function_value(m) is not m:
                key = m.child_by_field_name("key")
            name = "" if key is None else _strip_string(_text(self.src, key))
            if name:
                idx = self._add(m, "FunctionDeclaration", name, False, None, container)
                self.defs[idx].exported = True

    def _js_function_var(self, node: tree_sitter.Node) -> tuple[str, bool] | None:
        """``(name, is_method)`` when ``node`` defines a function by a value (a variable, a
        class field, an assignment such as ``Foo.prototype.bar = function …``)."""
        value = _function_value(node)
        if value is node:
            return None
        assign = _assignment(node)
        if assign is not None:
            left = _text(self.src, assign.child_by_field_name("left"))
            return _assigned_name(left, value, self.src, self.stem)
        if node.type in ("public_field_definition", "field_definition"):
            field = node.child_by_field_name("name") or node.child_by_field_name("property")
            return _text(self.src, field), False
        decl = value.parent
        while decl is not None and decl.type != "variable_declarator":  # memo(forwardRef(…))
            decl = decl.parent
        return None if decl is None else (_text(self.src, decl.child_by_field_name("name")), False)

    def visit(
        self, node: tree_sitter.Node, container: int | None, wrapper: tree_sitter.Node | None = None
    ) -> None:
        table = self.table
        for child in node.named_children:
            t = child.type
            wrap = wrapper
            cont = self.defs[container] if container is not None else None
            prefix = cont.name + "." if cont is not None else ""
            if t in table.types:
                if t in (
                    "struct_specifier",
                    "union_specifier",
                    "enum_specifier",
                    "class_specifier",
                ) and (child.child_by_field_name("body") is None):
                    continue
                name = _node_name(child, self.src)
                if t == "module" and self.lang in ("typescript", "tsx"):
                    name = _strip_string(name)  # declare module "fs" { … }
                if not name and self.lang in ("c", "cpp") and node.type == "type_definition":
                    name = _declarator_name(node, self.src)
                idx = self._add(child, self._type_kind(child), prefix + name, True, wrap, container)
                body = _find_body(child)
                if body is not None:
                    self.visit(body, idx)
            elif t in table.members:
                name = _node_name(child, self.src)
                kind = table.members[t]
                if self.lang == "go" and t == "method_declaration":
                    recv = _go_receiver(child, self.src)
                    name = f"{recv}.{name}" if recv else name
                    self._add(child, kind, name, False, wrap, container)
                    continue
                if cont is not None:
                    # a function in a Rust ``mod`` or a TS ``namespace`` is a free function,
                    # not a method (a Ruby module's ``def`` is a mixin method)
                    free = cont.kind == "ModuleDeclaration" and self.lang != "ruby"
                    if kind == "FunctionDeclaration" and not free:
                        kind = "MethodDeclaration"
                    name = prefix + name
                elif "." in name and kind == "FunctionDeclaration":
                    kind = "MethodDeclaration"
                self._add(child, kind, name, False, wrap, container)
            elif t == "declaration" and self.lang in ("c", "cpp") and _is_prototype(child):
                # a header's API is its prototypes: each one, with the doc comment above
                # it, is a chunk of its own rather than a line of a Module window
                name = prefix + _declarator_name(child, self.src)
                self._add(child, _c_member_kind(name, cont), name, False, wrap, container)
            elif t == "ERROR" and self.lang in ("c", "cpp"):
                fd = _recovered_prototype(child)
                if fd is None:  # a parse error over many declarations (glibc's stdio.h
                    self.visit(child, container)  # lost 500 lines to one): look inside
                    continue
                name = prefix + _text(self.src, fd.child_by_field_name("declarator"))
                name = name.replace("::", ".")
                self._add(child, _c_member_kind(name, cont), name, False, wrap, container)
            elif self.lang == "ruby" and t == "call" and _ruby_wrapped_def(child, self.src):
                args = child.child_by_field_name("arguments")
                assert args is not None  # _ruby_wrapped_def found the def in them
                self.visit(args, container, child)
            elif (
                self.lang == "ruby"
                and t == "call"
                and (scoped := _ruby_scope_block(child, self.src)) is not None
            ):
                # a concern's ``included do``/``class_methods do`` blocks (and
                # ``class_eval``): their defs and attr_* are the enclosing module's members;
                # ``User.class_eval do`` reopens User, as ``class User`` would
                word, receiver, body = scoped
                if receiver is None:
                    self.visit(body, container)
                else:
                    name = prefix + _text(self.src, receiver)
                    idx = self._add(child, _RUBY_REOPENERS[word], name, True, wrap, container)
                    self.visit(body, idx)
            elif (
                self.lang == "ruby"
                and t == "call"
                and ((defined := _ruby_defining_call(child, self.src)) is not None)
            ):
                # attr_accessor :a, :b (one chunk, every name in its name) and
                # define_method(:x) do |y| … end: methods a reader looks up by name
                kind, names = defined
                name = ", ".join(prefix + n for n in names)
                idx = self._add(child, kind, name, False, wrap, container)
                block = child.child_by_field_name("block")
                if block is not None:
                    self.defs[idx].info["value"] = block  # its parameters are the method's
            elif t in table.transparent:
                inner_wrap = (
                    child
                    if t
                    in (
                        "decorated_definition",
                        "export_statement",
                        "template_declaration",
                        "type_declaration",
                        "ambient_declaration",
                    )
                    else None
                )
                if (
                    t == "type_declaration"
                    and sum(c.type == "type_spec" for c in child.children) > 1
                ):
                    # Go's grouped ``type ( A struct{…}; B interface{…} )``: each spec spans
                    # its own rows (wrapped by the group, every spec spanned all of it and
                    # the last one took every row)
                    inner_wrap = None
                if (
                    t == "ambient_declaration"
                    and wrapper is not None
                    and node.type == ("export_statement")
                ):
                    # ``export declare function f`` (every zod .d.ts line): the export
                    # statement stays the wrapper, so the definition is exported and its
                    # JSDoc, above the ``export``, is its doc
                    inner_wrap = wrapper
                if t in table.namespaces:
                    body = _find_body(child)
                    self.visit(body if body is not None else child, container)
                else:
                    self.visit(child, container, inner_wrap)
            elif self.lang in ("javascript", "typescript", "tsx") and (
                (obj := self._exported_object(child)) is not None and cont is None
            ):
                self._add_object_functions(obj, container)
            elif self.lang in ("javascript", "typescript", "tsx"):
                found = self._js_function_var(child)
                if found is not None and found[0]:
                    var_name, assigned_method = found  # Foo.prototype.bar = …: a method
                    member = cont is not None and cont.kind != "ModuleDeclaration"
                    kind = (
                        "MethodDeclaration" if member or assigned_method else "FunctionDeclaration"
                    )
                    self._add(child, kind, prefix + var_name, False, wrap, container)
                elif t in ("lexical_declaration", "variable_declaration") and (
                    cont is None or cont.kind == "ModuleDeclaration"
                ):
                    self._add_variable(child, wrap, container, prefix)

    # -- one query for comments, calls, imports, docstrings ------------------------------
    def walk(
        self, root: tree_sitter.Node
    ) -> tuple[
        list[tuple[int, int, str, bool, bool]], list[tuple[int, str]], list[tuple[int, str]]
    ]:
        """Comments, calls and imports in pre-order, not looking inside comments, imports
        and (docstring languages) strings.

        One tree-sitter query finds the candidate nodes in C; a Python cursor walk over
        every node of the tree was a fifth of a worker's time. Sorting by (start, -end)
        restores pre-order, and a candidate starting inside the last opaque node is one
        the walk would not have descended to.
        """
        comments: list[tuple[int, int, str, bool, bool]] = []
        calls: list[tuple[int, str]] = []
        imports: list[tuple[int, str]] = []
        table = self.table
        src = self.src
        query = _relations_query(self.lang)
        if query is None:
            return comments, calls, imports
        found = tree_sitter.QueryCursor(query).captures(root).get("n", [])
        nodes = _preorder(found)
        opaque_end = -1
        for node in nodes:
            start = node.start_byte
            if start < opaque_end:
                continue
            t = node.type
            if t in table.comments:
                row, col = node.start_point
                own_line = not self.lines[row][:col].strip()
                text = _text(self.src, node).rstrip("\r\n")  # a Rust line comment's newline
                comments.append((int(row), _end_row(node), text, own_line, False))
                opaque_end = node.end_byte
            elif t == "string" and table.docstrings:
                parent = node.parent
                if parent is not None and parent.type == "expression_statement":
                    gp = parent.parent
                    if (
                        gp is not None
                        and gp.type in ("block", "module")
                        and (first := gp.named_child(0)) is not None
                        and first.id == parent.id
                    ):
                        comments.append(
                            (
                                int(node.start_point[0]),
                                _end_row(node),
                                _strip_string(_text(self.src, node)),
                                True,
                                True,
                            )
                        )
                opaque_end = node.end_byte
            elif t == _INTERPOLATION and table.docstrings:
                opaque_end = node.end_byte  # inside a string: the walk never looked there
            elif t in table.calls:
                args = node.child_by_field_name("arguments")
                if args is not None and (end := args.start_byte) > start and t not in _OWN_CALLEE:
                    # _callee's common case inlined (a frame per call)
                    callee = "".join(src[start:end].decode("utf-8", "replace").split())
                    if callee.startswith("new"):
                        callee = callee[3:]
                    if len(callee) > MAX_CALLEE:
                        callee = "…" + callee[1 - MAX_CALLEE :]
                else:
                    callee = self._callee(node, t, start)
                if "}" in callee or "{" in callee or ";" in callee:
                    callee = _tidy_callee(callee)
                if callee:
                    calls.append((node.start_point[0], callee))
                    if callee in _REQUIRES.get(self.lang, ()):  # Ruby require, CommonJS
                        args = node.child_by_field_name("arguments")
                        arg0 = args.named_children[0] if args and args.named_children else None
                        if arg0 is not None and _literal_string(arg0):
                            imports.append(
                                (int(node.start_point[0]), _strip_string(_text(self.src, arg0)))
                            )
            elif t in table.imports:
                for spec in self._import_specs(node):
                    imports.append((int(node.start_point[0]), spec))
                opaque_end = node.end_byte
        return comments, calls, imports

    def _callee(self, node: tree_sitter.Node, t: str, start: int) -> str:
        """``t``, ``start``: the node's type and start byte (the walk has them)."""
        if t == "command":  # a README's ``$ celery -A app`` is celery, not ``$ celery``
            return _text(self.src, node.child_by_field_name("name")).strip().removeprefix("$ ")
        if t == "macro_invocation":
            return _text(self.src, node.child_by_field_name("macro")) + "!"
        args = node.child_by_field_name("arguments")
        if args is not None and (end := args.start_byte) > start:
            text = self.src[start:end].decode("utf-8", "replace")
        else:
            f = (
                node.child_by_field_name("function")
                or node.child_by_field_name("method")
                or node.child_by_field_name("name")
                or node.child_by_field_name("constructor")
                or node.child_by_field_name("type")
            )
            if f is None:
                return ""
            text = self.src[start : f.end_byte].decode("utf-8", "replace")
        text = "".join(text.split())  # = _WS.sub("", text): \s is str.isspace
        if text.startswith("new"):
            text = text[3:]
        return text if len(text) <= MAX_CALLEE else "…" + text[1 - MAX_CALLEE :]

    def _import_specs(self, node: tree_sitter.Node) -> list[str]:
        for fld in ("source", "path", "module_name", "argument"):
            f = node.child_by_field_name(fld)
            if f is not None:
                return [_strip_string(_text(self.src, f))]
        text = " ".join(_text(self.src, node).split()).rstrip(";").strip()
        words = text.split(" ")
        while words and words[0] in _IMPORT_WORDS:
            words.pop(0)
        out = []
        for part in " ".join(words).split(","):
            part = part.strip()
            if " as " in part:
                part = part.split(" as ")[0].strip()
            part = _strip_string(part)
            if part:
                out.append(part)
        return out

    # -- rows into chunks -------------------------------------------------------------------
    def chunks(self, root: tree_sitter.Node) -> FileChunks:
        if self.lang == "python" and b"__all__" in self.src:  # the regex has no fast prefix
            m = re.search(
                r"^__all__\s*=\s*[\[(]([^\])]*)[\])]", self.src.decode("utf-8", "replace"), re.M
            )
            if m:
                self.module_all = frozenset(re.findall(r"['\"]([^'\"]+)['\"]", m.group(1)))
        if self.lang in ("javascript", "typescript", "tsx"):
            self.local_exports = self._local_exports(root)
        self.visit(root, None)
        self._merge_defs()
        n = len(self.lines)
        owner = [-1] * n
        for idx, dd in enumerate(self.defs):
            a, b = max(dd.start_row, 0), min(dd.end_row, n - 1)
            if a <= b:
                owner[a : b + 1] = [idx] * (b - a + 1)  # slice stores: no loop per row
        comments, calls, imports = self.walk(root)

        runs: list[tuple[int, int, int]] = []
        r = 0
        for o, same in itertools.groupby(owner):
            k = len(list(same))
            runs.append((r, r + k - 1, o))
            r += k

        seen_first: set[int] = set()
        drafts: list[ChunkDraft] = []
        row_chunk = [-1] * n
        metas: list[dict[str, Any]] = []
        for s, e, o in runs:
            s2, e2 = s, e
            while s2 <= e2 and not self.lines[s2].strip():
                s2 += 1
            while e2 >= s2 and not self.lines[e2].strip():
                e2 -= 1
            if s2 > e2 or not any(map(_ALNUM.search, self.lines[s2 : e2 + 1])):
                continue
            d: _Def | None = None
            if o < 0:
                kind, name = "Module", self.stem
            elif o in seen_first:
                d0 = self.defs[o]
                kind, name = ("ClassBody" if d0.is_type else d0.kind), d0.name
            else:
                seen_first.add(o)
                d = self.defs[o]
                kind, name = d.kind, d.name
            # An oversize run is windowed here, before comments, calls and imports are
            # assigned by row: windowed afterwards, every window of a header's top-level
            # run carried the whole run's comments (sqlite3.h: 233 KB, ~100 windows).
            windows = oversize_bounds(self.lines, s2, e2, self.limits)
            for i, (ws, we) in enumerate(windows or [(s2, e2)]):
                if windows is not None:
                    ws, we = trim_blank_rows(self.lines, ws, we)
                    if not has_alnum_row(self.lines, ws, we):
                        continue
                row_chunk[ws : we + 1] = [len(drafts)] * (we - ws + 1)
                metas.append({"imports": [], "comment": [], "comment_rows": []})
                span = i if windows is not None else None
                if d is not None:
                    drafts.append(
                        ChunkDraft(
                            ws,
                            we,
                            kind,
                            name,
                            self.lang,
                            span_index=span,
                            doc=d.doc,
                            signature=d.signature,
                            params=d.info["params"]
                            if "params" in d.info
                            else _params(
                                fn := d.info.get("value") or _function_value(d.node), self.src
                            ),
                            returns=d.info["returns"]
                            if "returns" in d.info
                            else _returns(fn, self.src, self.lang),
                            decorators=d.info.get("decorators", ())
                            + _decorators(d.node, d.wrapper, self.src, self._attributes(d.node)),
                            modifiers=self._modifiers(d),
                            exported=d.exported,
                        )
                    )
                else:
                    drafts.append(ChunkDraft(ws, we, kind, name, self.lang, span_index=span))

        # each chunk's calls in order, then its first MAX_RELATIONS distinct ones (what a
        # membership test per call into a list of up to 200 gave), per-call work in C
        chunk_calls: list[list[str]] = [[] for _ in drafts]
        if calls:
            rows = list(map(_FIRST, calls))
            if max(rows) < n:
                cis: Iterable[int] = map(row_chunk.__getitem__, rows)
            else:
                cis = [row_chunk[row] if row < n else -1 for row in rows]
            pairs = zip(cis, map(_SECOND, calls), strict=True)
            for ci, grp in itertools.groupby(pairs, key=_FIRST):
                if ci >= 0:
                    chunk_calls[ci].extend(map(_SECOND, grp))
        file_imports: list[str] = []
        for row, spec in imports:
            if spec not in file_imports:
                file_imports.append(spec)
            ci = row_chunk[row] if row < n else -1
            if ci >= 0 and spec not in metas[ci]["imports"]:
                metas[ci]["imports"].append(spec)

        doc_rows = {d.doc_rows for d in self.defs if d.doc_rows is not None}
        doc_rows.update(r for d in self.defs for r in d.info.get("doc_rows", ()))
        in_doc = {r for a, b in doc_rows for r in range(a, b + 1)}  # rows of any doc_rows
        in_doc -= self.not_doc_rows
        cleaned: dict[str, str] = {}  # a one-comment group cleans its comment's text again
        extracted: list[ChunkDraft] = []
        groups: list[list[tuple[int, int, str, bool, bool]]] = []
        for c in comments:
            text = "" if c[4] else cleaned.get(c[2], "")
            if not c[4] and not text and c[2] not in cleaned:
                text = cleaned[c[2]] = _plain_doc(self.lang, _clean_comment(c[2]))
            if not c[4] and is_annotation(text):
                # ``/*#__PURE__*/``, ``// @ts-ignore``: a tool's, no words of the code's
                ci = row_chunk[c[0]] if c[0] < n else -1
                if ci >= 0:
                    metas[ci]["comment_rows"].append((c[0], c[1]))
                continue
            if (
                groups
                and not c[4]
                and not groups[-1][-1][4]
                and c[3]
                and groups[-1][-1][3]
                and c[0] == groups[-1][-1][1] + 1
            ):
                groups[-1].append(c)
            else:
                groups.append([c])
            ci = row_chunk[c[0]] if c[0] < n else -1
            if ci >= 0:
                metas[ci]["comment_rows"].append((c[0], c[1]))
                dr0 = drafts[ci]
                if not c[4] and c[0] not in in_doc:
                    metas[ci]["comment"].append(text)
                elif c[4] and dr0.doc != c[2]:
                    metas[ci]["comment"].append(c[2])
        for g in groups[:MAX_EXTRACTED]:
            s, e = g[0][0], g[-1][1]
            raw = g[0][2] if len(g) == 1 else "\n".join(x[2] for x in g)
            if g[0][4]:
                text = raw
            else:
                text = cleaned.get(raw) or _plain_doc(self.lang, _clean_comment(raw))
            if _ALNUM.search(text) is None:
                continue
            if g[0][4]:
                kind = "Docstring"
            elif is_banner(text):  # ``//////// ZodBase64 ////////``: a title, no doc
                kind = "Comment"
            elif raw.lstrip().startswith(("/**", "///", "//!", "/*!")) or s in in_doc:
                kind = "DocComment"
            else:
                kind = "Comment"
            ci = row_chunk[s] if s < n else -1
            name = self.stem
            if ci >= 0 and drafts[ci].kind not in ("Module",):
                name = drafts[ci].name
            extracted.append(ChunkDraft(s, e, kind, name, self.lang, doc=text))

        for dr, meta, names in zip(drafts, metas, chunk_calls, strict=True):  # this pass's own
            dr.comment = "\n".join(x for x in meta["comment"] if x)
            dr.calls = tuple(itertools.islice(dict.fromkeys(names), MAX_RELATIONS))
            dr.imports = tuple(meta["imports"])
            dr.comment_rows = tuple(meta["comment_rows"])
        exports = tuple(
            name
            for d, p in zip(self.defs, self.parents, strict=True)
            if p is None and d.exported
            for name in d.info.get("exported_names") or d.info.get("names", (d.name,))
        )
        return FileChunks(
            chunks=tuple(drafts),
            extracted=tuple(extracted),
            imports=tuple(file_imports),
            exports=exports,
            keywords=keywords(self.lang),
        )


def chunk_tree_sitter(
    lang: str, text: str, lines: list[str], stem: str, limits: ChunkingLimits | None = None
) -> FileChunks:
    """Chunk one file with its grammar; raises on a grammar failure (caller falls back).

    Runs over ``limits`` come back as line windows (``span_index`` 0..k)."""
    table = TABLES[lang]
    parser = tree_sitter.Parser(language(lang))
    src = text.encode("utf-8")
    tree = parser.parse(src)
    return _Chunker(lang, table, src, lines, stem, limits).chunks(tree.root_node)
