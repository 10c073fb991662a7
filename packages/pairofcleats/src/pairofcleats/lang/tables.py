"""Per-language tree-sitter node tables: which nodes are types, members, wrappers, calls.

Grammars are loaded lazily from the per-language wheels, never from a language
pack (it downloads at run time).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache
from typing import Any

import tree_sitter


@dataclass(frozen=True, slots=True)
class NodeTable:
    """How one grammar's nodes map onto chunk kinds."""

    module: str
    loader: str
    types: dict[str, str]
    members: dict[str, str]
    transparent: frozenset[str] = frozenset()
    calls: frozenset[str] = frozenset()
    imports: frozenset[str] = frozenset()
    comments: frozenset[str] = frozenset({"comment"})
    #: Containers whose name does not prefix members (namespaces).
    namespaces: frozenset[str] = frozenset()
    #: Sibling nodes before a definition that belong to it (Rust's ``#[inline]``): the
    #: doc comment sits above them, and they are the definition's decorators.
    attributes: frozenset[str] = frozenset()
    docstrings: bool = False
    extra: dict[str, Any] = field(default_factory=dict)


#: Conditional-compilation branches, walked into: nearly every C/C++ header wraps its
#: whole body in an include guard, and ``#elif``/``#else`` nest inside the ``#if``.
_PREPROC_BRANCHES = (
    "preproc_ifdef",
    "preproc_if",
    "preproc_elif",
    "preproc_elifdef",
    "preproc_else",
)
_C_TYPES = {
    "struct_specifier": "StructDeclaration",
    "union_specifier": "StructDeclaration",
    "enum_specifier": "EnumDeclaration",
}
_JS_TYPES = {
    "class_declaration": "ClassDeclaration",
    "class": "ClassDeclaration",
    "abstract_class_declaration": "ClassDeclaration",
}
_TS_TYPES = {
    **_JS_TYPES,
    "interface_declaration": "InterfaceDeclaration",
    "enum_declaration": "EnumDeclaration",
    "type_alias_declaration": "TypeAlias",
    "internal_module": "ModuleDeclaration",  # namespace X { … }
    "module": "ModuleDeclaration",  # module X { … }, declare module "x" { … }
}
_JS_MEMBERS = {
    "function_declaration": "FunctionDeclaration",
    "generator_function_declaration": "FunctionDeclaration",
    "method_definition": "MethodDeclaration",
}
_TS_MEMBERS = {
    **_JS_MEMBERS,
    "method_signature": "MethodDeclaration",
    "abstract_method_signature": "MethodDeclaration",
    "function_signature": "FunctionDeclaration",
}
_JS_TRANSPARENT = frozenset({"program", "export_statement", "statement_block"})
#: A top-level ``namespace X { … }`` parses as an expression statement around the
#: ``internal_module``: without walking it, nothing in a TS namespace was chunked.
_TS_TRANSPARENT = _JS_TRANSPARENT | {"ambient_declaration", "expression_statement"}

TABLES: dict[str, NodeTable] = {
    "python": NodeTable(
        "tree_sitter_python",
        "language",
        {"class_definition": "ClassDeclaration"},
        {"function_definition": "FunctionDeclaration"},
        # definitions under a module's or class's if/try/with (compat shims such as
        # ``except ImportError: def speedup(…)``) are definitions too; bodies of functions
        # are never walked, so nothing local becomes a chunk
        frozenset(
            {
                "module",
                "decorated_definition",
                "if_statement",
                "elif_clause",
                "else_clause",
                "try_statement",
                "except_clause",
                "finally_clause",
                "with_statement",
                "block",
            }
        ),
        frozenset({"call"}),
        frozenset({"import_statement", "import_from_statement"}),
        docstrings=True,
    ),
    "javascript": NodeTable(
        "tree_sitter_javascript",
        "language",
        _JS_TYPES,
        _JS_MEMBERS,
        _JS_TRANSPARENT,
        frozenset({"call_expression", "new_expression"}),
        frozenset({"import_statement"}),
    ),
    "typescript": NodeTable(
        "tree_sitter_typescript",
        "language_typescript",
        _TS_TYPES,
        _TS_MEMBERS,
        _TS_TRANSPARENT,
        frozenset({"call_expression", "new_expression"}),
        frozenset({"import_statement"}),
    ),
    "tsx": NodeTable(
        "tree_sitter_typescript",
        "language_tsx",
        _TS_TYPES,
        _TS_MEMBERS,
        _TS_TRANSPARENT,
        frozenset({"call_expression", "new_expression"}),
        frozenset({"import_statement"}),
    ),
    "go": NodeTable(
        "tree_sitter_go",
        "language",
        {"type_spec": "TypeAlias", "type_alias": "TypeAlias"},
        {"function_declaration": "FunctionDeclaration", "method_declaration": "MethodDeclaration"},
        frozenset({"source_file", "type_declaration"}),
        frozenset({"call_expression"}),
        frozenset({"import_spec"}),
    ),
    "rust": NodeTable(
        "tree_sitter_rust",
        "language",
        {
            "struct_item": "StructDeclaration",
            "enum_item": "EnumDeclaration",
            "trait_item": "TraitDeclaration",
            "impl_item": "ImplDeclaration",
            "type_item": "TypeAlias",
            "mod_item": "ModuleDeclaration",
            "union_item": "StructDeclaration",
        },
        {
            "function_item": "FunctionDeclaration",
            "function_signature_item": "FunctionDeclaration",
            "macro_definition": "MacroDeclaration",  # macro_rules! name { … }
        },
        frozenset({"source_file"}),
        frozenset({"call_expression", "macro_invocation"}),
        frozenset({"use_declaration"}),
        frozenset({"line_comment", "block_comment"}),
        attributes=frozenset({"attribute_item"}),
    ),
    "java": NodeTable(
        "tree_sitter_java",
        "language",
        {
            "class_declaration": "ClassDeclaration",
            "interface_declaration": "InterfaceDeclaration",
            "enum_declaration": "EnumDeclaration",
            "record_declaration": "ClassDeclaration",
            "annotation_type_declaration": "InterfaceDeclaration",
        },
        {
            "method_declaration": "MethodDeclaration",
            "constructor_declaration": "ConstructorDeclaration",
            "compact_constructor_declaration": "ConstructorDeclaration",  # record R { R {…} }
            "annotation_type_element_declaration": "MethodDeclaration",  # @interface A { int v(); }
        },
        frozenset({"program", "enum_body_declarations"}),
        frozenset({"method_invocation", "object_creation_expression"}),
        frozenset({"import_declaration"}),
        frozenset({"line_comment", "block_comment"}),
    ),
    "c": NodeTable(
        "tree_sitter_c",
        "language",
        _C_TYPES,
        {"function_definition": "FunctionDeclaration"},
        frozenset(
            {
                "translation_unit",
                "declaration",
                "type_definition",
                "linkage_specification",
                "declaration_list",  # the body of extern "C" { … }
                *_PREPROC_BRANCHES,
            }
        ),
        frozenset({"call_expression"}),
        frozenset({"preproc_include"}),
    ),
    "cpp": NodeTable(
        "tree_sitter_cpp",
        "language",
        {**_C_TYPES, "class_specifier": "ClassDeclaration"},
        {"function_definition": "FunctionDeclaration"},
        frozenset(
            {
                "translation_unit",
                "declaration",
                "type_definition",
                "namespace_definition",
                "declaration_list",
                "template_declaration",
                "linkage_specification",
                *_PREPROC_BRANCHES,
                "field_declaration",
            }
        ),
        frozenset({"call_expression"}),
        frozenset({"preproc_include", "using_declaration"}),
        namespaces=frozenset({"namespace_definition"}),
    ),
    "csharp": NodeTable(
        "tree_sitter_c_sharp",
        "language",
        {
            "class_declaration": "ClassDeclaration",
            "interface_declaration": "InterfaceDeclaration",
            "struct_declaration": "StructDeclaration",
            "enum_declaration": "EnumDeclaration",
            "record_declaration": "ClassDeclaration",
        },
        {
            "method_declaration": "MethodDeclaration",
            "constructor_declaration": "ConstructorDeclaration",
            "local_function_statement": "FunctionDeclaration",
            # members with bodies of their own: left out, a 60-line property lambda was
            # part of its type's header chunk (the header runs up to the first member)
            "property_declaration": "PropertyDeclaration",
            "indexer_declaration": "PropertyDeclaration",
            "event_declaration": "EventDeclaration",  # with add/remove accessors
            "operator_declaration": "MethodDeclaration",
            "conversion_operator_declaration": "MethodDeclaration",
            "destructor_declaration": "MethodDeclaration",
        },
        frozenset(
            {
                "compilation_unit",
                "namespace_declaration",
                "file_scoped_namespace_declaration",
                "declaration_list",
            }
        ),
        frozenset({"invocation_expression", "object_creation_expression"}),
        frozenset({"using_directive"}),
        namespaces=frozenset({"namespace_declaration", "file_scoped_namespace_declaration"}),
    ),
    "ruby": NodeTable(
        "tree_sitter_ruby",
        "language",
        {"class": "ClassDeclaration", "module": "ModuleDeclaration"},
        {"method": "MethodDeclaration", "singleton_method": "MethodDeclaration"},
        # ``class << self … end``: its defs are the class's own methods
        frozenset({"program", "body_statement", "singleton_class"}),
        frozenset({"call"}),
        frozenset(),
    ),
    "php": NodeTable(
        "tree_sitter_php",
        "language_php",
        {
            "class_declaration": "ClassDeclaration",
            "interface_declaration": "InterfaceDeclaration",
            "trait_declaration": "TraitDeclaration",
            "enum_declaration": "EnumDeclaration",
        },
        {"function_definition": "FunctionDeclaration", "method_declaration": "MethodDeclaration"},
        # if/elseif/else: WordPress-style ``if (!function_exists('x')) { function x() … }``
        frozenset(
            {
                "program",
                "namespace_definition",
                "compound_statement",
                "declaration_list",
                "if_statement",
                "else_if_clause",
                "else_clause",
            }
        ),
        frozenset(
            {
                "function_call_expression",
                "member_call_expression",
                "scoped_call_expression",
                "object_creation_expression",
            }
        ),
        frozenset(
            {
                "namespace_use_declaration",
                "include_expression",
                "require_once_expression",
                "require_expression",
                "include_once_expression",
            }
        ),
        namespaces=frozenset({"namespace_definition"}),
    ),
    "shell": NodeTable(
        "tree_sitter_bash",
        "language",
        {},
        {"function_definition": "FunctionDeclaration"},
        # ``if command -v gdate …; then now() { …; } else now() { …; } fi`` portability
        # switches define functions too
        frozenset({"program", "if_statement", "elif_clause", "else_clause"}),
        frozenset({"command"}),
        frozenset(),
    ),
}

BODY_TYPES = frozenset(
    {
        "block",
        "class_body",
        "declaration_list",
        "field_declaration_list",
        "body_statement",
        "interface_body",
        "enum_body",
        "object_type",
        "enum_variant_list",
        "statement_block",
        "compound_statement",
        "macro_rule",  # a macro_rules! header ends at its first rule
    }
)


@cache
def language(lang_id: str) -> tree_sitter.Language:
    """The grammar of ``lang_id`` from its wheel (loaded on first use)."""
    table = TABLES[lang_id]
    mod = importlib.import_module(table.module)
    loader: Callable[[], Any] = getattr(mod, table.loader)
    return tree_sitter.Language(loader())


@cache
def keywords(lang_id: str) -> frozenset[str]:
    """Anonymous alphabetic leaves of the grammar: the language's keywords."""
    lang = language(lang_id)
    out = set()
    for i in range(lang.node_kind_count):
        if lang.node_kind_is_named(i) or not lang.node_kind_is_visible(i):
            continue
        kind = lang.node_kind_for_id(i)
        if kind and kind.isascii() and kind.replace("_", "").isalpha() and len(kind) > 1:
            out.add(kind)
    return frozenset(out)
