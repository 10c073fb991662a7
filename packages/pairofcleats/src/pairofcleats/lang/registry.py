"""Language registry (§4): which language a path is, which mode it feeds, which chunker runs.

Pure data plus a lookup; importing it never loads a grammar.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import metadata
from pathlib import PurePosixPath

#: Bumped when the table below, or what a chunker extracts from the same bytes, changes; it
#: feeds the languagePolicyKey, so bundles made by the older rules are not reused (§15 B1).
#: 2: JS/TS function-valued declarations' signature/params/returns, long callees' tails.
#: 3: C/C++ definitions inside `extern "C" { … }` bodies and `#elif`/`#elifdef` branches.
#: 4: oversize tree-sitter runs windowed before comments/calls/imports are assigned by row.
#: 5: C/C++ function prototypes (declarations with a function declarator) are chunks.
#: 6: C/C++ prototypes recovered from parse errors (glibc-style trailing macros).
#: 7: TS namespaces/modules chunked; functions in Rust mods and TS namespaces are functions.
#: 8: JS/TS functions assigned to CommonJS exports, prototypes and other left-hand sides.
#: 9: build/infra files (Makefile, Dockerfile, CMake, Gradle, proto, HCL, Vue) and .zsh.
#: 10: regex-chunked members named Type.method; Go grouped type specs each their own chunk.
#: 11: Python definitions under module/class-level if/try/with are chunks.
#: 12: PHP functions under if/elseif/else (function_exists guards).
#: 13: Ruby methods inside class << self blocks.
#: 14: JS/TS functions of an exported object literal (export default {…}, module.exports = {…}).
#: 15: Go/Rust/Java/C# definitions: Rust attributes and docs above items, impl names without
#:     generics, macro_rules!; C# properties/operators/events; Go multi-name params.
#: 16: Ruby/TS/TSX/PHP/shell/regex-language docs, decorators and members; C#/Javadoc/JSDoc
#:     doc markup reduced to its words; Dart members, Lua methods and assigned functions;
#:     member exports per language; JS/TS destructuring params by name; imports keep a
#:     leading u/r/b/f, CommonJS require() imports; typed *args/**kwargs names; no
#:     callee from an invoked function literal, no shell-prompt callee.
#: 17: Ruby attr_*/cattr_*/mattr_*/class_attribute (PropertyDeclaration) and define_method
#:     (MethodDeclaration) members; TS overloads one chunk with their implementation (or
#:     one declaration per name); sibling definitions sharing a line one chunk, named by each;
#:     regex-chunked functions' params and returns (Kotlin, Swift, Scala, Lua, Perl, R, SQL,
#:     Objective-C, Dart), Objective-C methods named by selector in their @implementation.
#: 18: JS/TS exported top-level const/let/var (and ones exported by `export default x`,
#:     `export { x }`, `module.exports = x`) are VariableDeclaration chunks; .d.ts top-level
#:     and ambient-body (`declare module "x" {…}`) declarations exported, `export declare`
#:     keeps its export and JSDoc. Tool directives (`/*@__PURE__*/`, `// eslint-disable…`,
#:     `// @ts-ignore`) and banners (`//// ZodBase64 ////`, `// -----`) are no doc; directives
#:     are no comment text or extracted prose either. Ruby defs/attr_* in `included do`,
#:     `class_methods do` (static), `concerning`, `class_eval do` blocks are members.
#: 19: an eslint `global`/`exported` directive needs a `:` or `,` (`// global cache` is prose).
#: 20: Dart constructors with no body (`const Foo({…});`, `Foo.named(…) : super(…);`,
#:     `factory Foo.x() = _X;`) and abstract methods are members, function-typed returns
#:     (`void Function(int) f(`) name `f`; Kotlin extensions on generic receivers (`fun <T>
#:     List<T>.swap`) are `List.swap`. Members on their type's header line (`declare class K
#:     { m(): void; }`) are the type's chunk, its signature recording theirs; a type and a
#:     sibling on one line are one chunk (the type's kind), the file exporting only the
#:     names the source exports; JS/TS signatures keep `export const f = (…) =>` and
#:     `declare function` / `declare module` as written.
#: 21: a chunk of line-sharing definitions is named by at most 8 (`… (+N more)`).
#: 22: every JS/TS exported declaration's signature starts as written (`export function`,
#:     `export default class`, `export async function`, `export interface`/`type`/`enum`);
#:     a TS type alias's signature is the whole declaration (`type Opt = { a: number }`)
#:     when it fits, else its head through `=` and the value's first line. Kotlin
#:     extension properties (`val <T> List<T>.lastIndex`) are PropertyDeclaration chunks.
#:     Dart abstract getters/setters (`int get x;`) and record-type returns (`(int, String)
#:     pair()`) are members; a line starting `on E catch (e) {` is no method.
REGISTRY_VERSION = 22

PROSE_EXTS = frozenset({".md", ".markdown", ".rst", ".txt", ".adoc"})
PROSE_NAMES = frozenset({"readme", "changelog", "license"})


@dataclass(frozen=True, slots=True)
class LanguageSpec:
    """One registry row: ``chunker`` is treesitter | regex | config | windows | markdown | rst."""

    id: str
    extensions: tuple[str, ...]
    mode: str
    chunker: str
    c_like: bool = False


LANGUAGES: tuple[LanguageSpec, ...] = (
    LanguageSpec("python", (".py", ".pyi"), "code", "treesitter"),
    LanguageSpec("javascript", (".js", ".mjs", ".cjs", ".jsx"), "code", "treesitter", True),
    LanguageSpec("typescript", (".ts", ".mts", ".cts"), "code", "treesitter", True),
    LanguageSpec("tsx", (".tsx",), "code", "treesitter", True),
    LanguageSpec("go", (".go",), "code", "treesitter", True),
    LanguageSpec("rust", (".rs",), "code", "treesitter", True),
    LanguageSpec("java", (".java",), "code", "treesitter", True),
    LanguageSpec("c", (".c", ".h"), "code", "treesitter", True),
    LanguageSpec("cpp", (".cc", ".cpp", ".cxx", ".hh", ".hpp", ".hxx"), "code", "treesitter", True),
    LanguageSpec("csharp", (".cs",), "code", "treesitter", True),
    LanguageSpec("ruby", (".rb",), "code", "treesitter"),
    LanguageSpec("php", (".php",), "code", "treesitter", True),
    LanguageSpec("shell", (".sh", ".bash", ".zsh"), "code", "treesitter"),
    LanguageSpec("kotlin", (".kt", ".kts"), "code", "regex", True),
    LanguageSpec("swift", (".swift",), "code", "regex", True),
    LanguageSpec("scala", (".scala", ".sc"), "code", "regex", True),
    LanguageSpec("lua", (".lua",), "code", "regex"),
    LanguageSpec("perl", (".pl", ".pm"), "code", "regex"),
    LanguageSpec("r", (".r", ".R"), "code", "regex"),
    LanguageSpec("sql", (".sql",), "code", "regex"),
    LanguageSpec("objc", (".m", ".mm"), "code", "regex", True),
    LanguageSpec("dart", (".dart",), "code", "regex", True),
    LanguageSpec("json", (".json", ".jsonc"), "code", "config"),
    LanguageSpec("yaml", (".yaml", ".yml"), "code", "config"),
    LanguageSpec("toml", (".toml",), "code", "config"),
    LanguageSpec("ini", (".ini", ".cfg", ".conf"), "code", "config"),
    LanguageSpec("xml", (".xml",), "code", "windows"),
    LanguageSpec("html", (".html", ".htm"), "code", "windows"),
    LanguageSpec("css", (".css", ".scss"), "code", "windows", True),
    # build and infrastructure files: line windows, so a Makefile target or a Dockerfile
    # step is found (they were skipped as unsupported); also matched by name, see detect
    LanguageSpec("make", (".mk",), "code", "windows"),
    LanguageSpec("dockerfile", (".dockerfile",), "code", "windows"),
    LanguageSpec("cmake", (".cmake",), "code", "windows"),
    LanguageSpec("groovy", (".gradle", ".groovy"), "code", "windows", True),
    LanguageSpec("protobuf", (".proto",), "code", "windows", True),
    LanguageSpec("hcl", (".tf", ".hcl"), "code", "windows"),
    LanguageSpec("vue", (".vue", ".svelte"), "code", "windows", True),
    LanguageSpec("markdown", (".md", ".markdown"), "prose", "markdown"),
    LanguageSpec("rst", (".rst",), "prose", "rst"),
    LanguageSpec("text", (".txt", ".adoc"), "prose", "windows"),
)

_BY_ID = {spec.id: spec for spec in LANGUAGES}
_BY_EXT = {ext: spec for spec in LANGUAGES for ext in spec.extensions}
#: Files known by their name (lowercase), before their extension: ``CMakeLists.txt`` is
#: code, not prose text.
_BY_NAME = {
    "makefile": "make",
    "gnumakefile": "make",
    "dockerfile": "dockerfile",
    "containerfile": "dockerfile",
    "cmakelists.txt": "cmake",
    "jenkinsfile": "groovy",
}

#: Grammar wheels whose versions feed the languagePolicyKey.
GRAMMAR_PACKAGES = (
    "tree-sitter",
    "tree-sitter-python",
    "tree-sitter-javascript",
    "tree-sitter-typescript",
    "tree-sitter-go",
    "tree-sitter-rust",
    "tree-sitter-java",
    "tree-sitter-c",
    "tree-sitter-cpp",
    "tree-sitter-c-sharp",
    "tree-sitter-ruby",
    "tree-sitter-php",
    "tree-sitter-bash",
)


def language_by_id(lang_id: str) -> LanguageSpec | None:
    """The registry row for ``lang_id``."""
    return _BY_ID.get(lang_id)


def file_ext(rel_path: str) -> str:
    """The file's extension as stored (``.py``; empty when none)."""
    return PurePosixPath(rel_path).suffix


def detect(rel_path: str) -> LanguageSpec | None:
    """The language of a repo-relative path, or None when it is not indexed.

    Extensionless README/CHANGELOG/LICENSE (any case, optional suffix after a dot
    handled by the extension table) are prose text; Makefile, Dockerfile (and
    ``Dockerfile.<x>``), CMakeLists.txt and Jenkinsfile are code, by name.
    """
    p = PurePosixPath(rel_path)
    name = p.name.lower()
    if name in _BY_NAME:
        return _BY_ID[_BY_NAME[name]]
    ext = p.suffix
    spec = _BY_EXT.get(ext) or _BY_EXT.get(ext.lower())
    if spec is not None:
        return spec
    if name.startswith("dockerfile."):  # Dockerfile.dev, Dockerfile.prod
        return _BY_ID["dockerfile"]
    if not ext and p.name.lower() in PROSE_NAMES:
        return _BY_ID["text"]
    return None


def grammar_versions() -> dict[str, str]:
    """Installed grammar wheel versions (``missing`` when absent)."""
    out: dict[str, str] = {}
    for name in GRAMMAR_PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "missing"
    return out
