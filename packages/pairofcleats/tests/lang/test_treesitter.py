"""One chunking test per grammar, plus the disjoint-cover invariant (§4, §16 item 9)."""

from __future__ import annotations

import re
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pairofcleats.lang import ChunkingLimits, chunk_file
from pairofcleats.lang.dispatch import split_lines
from pairofcleats.lang.notdoc import is_annotation, is_banner
from pairofcleats.lang.registry import detect
from pairofcleats.lang.tables import keywords
from poc_fixtures.repo import FILES


def _chunks(rel: str, text: str | None = None) -> list[tuple[str, str]]:
    spec = detect(rel)
    assert spec is not None
    fc = chunk_file(rel, text if text is not None else FILES[rel], spec, ChunkingLimits())
    assert fc.warnings == ()
    return [(c.kind, c.name) for c in fc.chunks]


@pytest.mark.parametrize(
    ("rel", "expected"),
    [
        (
            "src/greet.py",
            [
                ("FunctionDeclaration", "greet"),
                ("ClassDeclaration", "Greeter"),
                ("MethodDeclaration", "Greeter.__init__"),
                ("MethodDeclaration", "Greeter.greet"),
                ("FunctionDeclaration", "add_numbers"),
            ],
        ),
        (
            "src/util.js",
            [
                ("FunctionDeclaration", "sum"),
                ("FunctionDeclaration", "clamp"),
                ("ClassDeclaration", "Counter"),
                ("MethodDeclaration", "Counter.increment"),
            ],
        ),
        (
            "src/shapes.ts",
            [
                ("InterfaceDeclaration", "Shape"),
                ("ClassDeclaration", "Circle"),
                ("MethodDeclaration", "Circle.area"),
                ("TypeAlias", "ShapeList"),
                ("FunctionDeclaration", "totalArea"),
            ],
        ),
        ("src/widget.tsx", [("FunctionDeclaration", "Widget")]),
        (
            "src/server.go",
            [
                ("StructDeclaration", "Server"),
                ("MethodDeclaration", "Server.Hello"),
                ("FunctionDeclaration", "main"),
            ],
        ),
        (
            "src/lib.rs",
            [
                ("StructDeclaration", "Person"),
                ("MethodDeclaration", "Person.new"),
                ("FunctionDeclaration", "rust_greet"),
            ],
        ),
        (
            "src/Main.java",
            [("ClassDeclaration", "Main"), ("MethodDeclaration", "Main.countNames")],
        ),
        ("src/math.c", [("FunctionDeclaration", "c_multiply"), ("StructDeclaration", "point")]),
        (
            "src/math.cpp",
            [
                ("FunctionDeclaration", "cppMultiply"),
                ("ClassDeclaration", "Calculator"),
                ("MethodDeclaration", "Calculator.add"),
            ],
        ),
        (
            "src/Program.cs",
            [("ClassDeclaration", "Program"), ("MethodDeclaration", "Program.SayHello")],
        ),
        (
            "src/tools.rb",
            [("ClassDeclaration", "Toolbox"), ("MethodDeclaration", "Toolbox.open_box")],
        ),
        (
            "src/page.php",
            [
                ("FunctionDeclaration", "render_title"),
                ("ClassDeclaration", "Page"),
                ("MethodDeclaration", "Page.show"),
            ],
        ),
        ("scripts/deploy.sh", [("FunctionDeclaration", "deploy_app")]),
    ],
)
def test_language_definitions(rel: str, expected: list[tuple[str, str]]) -> None:
    got = _chunks(rel)
    for item in expected:
        assert item in got, (item, got)


@pytest.mark.parametrize("rel", [r for r in FILES if detect(r) is not None])
def test_chunks_are_disjoint_and_cover_meaningful_lines(rel: str) -> None:
    spec = detect(rel)
    assert spec is not None
    text = FILES[rel]
    lines = split_lines(text)
    fc = chunk_file(rel, text, spec, ChunkingLimits())
    owner: dict[int, int] = {}
    for i, c in enumerate(fc.chunks):
        for r in range(c.start_row, c.end_row + 1):
            assert r not in owner, (rel, r, fc.chunks[owner[r]], c)
            owner[r] = i
    for r, line in enumerate(lines):
        if any(ch.isalnum() for ch in line):
            assert r in owner, (rel, r, line)


def _chunked(rel: str, src: str) -> Any:
    """``chunk_file`` of ``src`` as the registry detects ``rel``, default limits."""
    spec = detect(rel)
    assert spec is not None
    return chunk_file(rel, src, spec, ChunkingLimits())


def test_python_details() -> None:
    spec = detect("src/greet.py")
    assert spec is not None
    fc = chunk_file("src/greet.py", FILES["src/greet.py"], spec, ChunkingLimits())
    greet = next(c for c in fc.chunks if c.name == "greet" and c.kind == "FunctionDeclaration")
    assert greet.doc == "Return a friendly greeting for name."
    assert greet.signature == "def greet(name: str = DEFAULT_NAME) -> str"
    assert greet.params == ({"name": "name", "type": "str", "default": "DEFAULT_NAME"},)
    assert greet.returns == "str"
    assert greet.calls == ("format_message",)
    assert greet.comment == "build the message"
    assert greet.modifiers["exported"] is True
    assert fc.imports == ("os", "typing")
    kinds = {(c.kind, c.name) for c in fc.extracted}
    assert ("Docstring", "greet") in kinds
    assert ("Comment", "greet") in kinds


def test_python_strings_hide_their_calls() -> None:
    """Calls inside f-string interpolations are not relations (the string is opaque); only
    a string that is the first statement of a body is a docstring, and a non-first
    statement string or a string argument is neither."""
    src = (
        "def f(x):\n"
        '    """Doc of f."""\n'
        '    g(f"{h(x)} and {k(x)!r}")\n'
        '    "not a docstring"\n'
        "    return m(x)\n"
        "\n"
        "\n"
        'print(f"{n()}")\n'
    )
    fc = _chunked("src/strs.py", src)
    f = next(c for c in fc.chunks if c.name == "f")
    assert f.doc == "Doc of f."
    assert f.calls == ("g", "m")
    module = next(c for c in fc.chunks if c.kind == "Module")
    assert module.calls == ("print",)
    assert [(c.kind, c.doc) for c in fc.extracted] == [("Docstring", "Doc of f.")]


def test_rust_pub_and_doc_comment() -> None:
    spec = detect("src/lib.rs")
    assert spec is not None
    fc = chunk_file("src/lib.rs", FILES["src/lib.rs"], spec, ChunkingLimits())
    rg = next(c for c in fc.chunks if c.name == "rust_greet")
    assert rg.doc == "Greet someone in Rust."
    assert rg.modifiers["visibility"] == "public"
    assert rg.exported
    assert "rust_greet" in fc.exports


C_GUARDED_HEADER = """#ifndef LIB_H
#define LIB_H
#ifdef __cplusplus
extern "C" {
#endif
typedef struct { int x; } Point;
static inline int add(int a, int b) { return a + b; }
#if defined(FAST)
static int fast(void) { return 1; }
#elif defined(SLOW)
static int slow(void) { return 2; }
#elifdef MEDIUM
static int medium(void) { return 3; }
#else
static int plain(void) { return 4; }
#endif
#ifdef __cplusplus
}
#endif
#endif
"""


@pytest.mark.parametrize("rel", ["include/lib.h", "include/lib.hpp"])
def test_c_header_definitions_inside_guards_extern_c_and_elif(rel: str) -> None:
    # an include guard around extern "C" { … } held every definition of a real header
    # (mypyc's CPy.h: 64 functions) out of reach: the file fell back to line windows
    spec = detect(rel)
    assert spec is not None
    fc = chunk_file(rel, C_GUARDED_HEADER, spec, ChunkingLimits())
    named = {(c.kind, c.name) for c in fc.chunks}
    for name in ("add", "fast", "slow", "medium", "plain"):
        assert ("FunctionDeclaration", name) in named
    assert ("StructDeclaration", "Point") in named


def test_windows_of_an_oversize_run_hold_only_their_own_comments_and_calls() -> None:
    # windowed after the assignment, each of sqlite3.h's ~100 top-level windows carried
    # the whole run's comments (233 KB each): 8 GB of RSS building /usr/include
    body = "".join(
        f"/* note {i} */\nint v{i} = init({i});\n#define M{i} call_{i}()\n\n" for i in range(300)
    )
    fc = _chunked("big.c", body)
    windows = [c for c in fc.chunks if c.kind == "Module"]
    assert len(windows) > 5
    assert [c.span_index for c in windows] == list(range(len(windows)))
    seen: list[int] = []
    for c in windows:
        notes = [int(m) for m in re.findall(r"note (\d+)", c.comment)]
        rows = range(c.start_row, c.end_row + 1)
        assert notes and all(4 * i in rows for i in notes)
        assert all(call == "init" for call in c.calls)
        seen.extend(notes)
    assert seen == list(range(300))


C_PROTOTYPES = """/* Open a database file. */
extern int db_open(const char *path, struct db **out) __attribute__((nonnull(1)));
char *db_errmsg(struct db *);
static int (*hook)(int);
int counter;
typedef int (*cb_t)(void *);
"""


@pytest.mark.parametrize("rel", ["include/db.h", "include/db.hpp"])
def test_c_prototypes_are_function_chunks_with_their_doc(rel: str) -> None:
    # a header's API is its prototypes; they were lines of Module windows, so
    # "pthread_mutex_lock" over /usr/include found no chunk named after it
    fc = _chunked(rel, C_PROTOTYPES)
    funcs = {c.name: c for c in fc.chunks if c.kind == "FunctionDeclaration"}
    assert sorted(funcs) == ["db_errmsg", "db_open"]  # not the pointer, variable or typedef
    op = funcs["db_open"]
    assert op.doc == "Open a database file."
    assert op.start_row == 0 and op.end_row == 1
    assert op.signature.startswith("extern int db_open(const char *path, struct db **out)")
    assert not op.signature.endswith(";")
    assert [p["name"] for p in op.params] == ["path", "out"]
    assert op.exported


def test_sqlite_style_comment_lines_lose_their_stars() -> None:
    from pairofcleats.lang.treesitter import _clean_comment

    text = "/*\n** CAPI3REF: Opening A New Database Connection\n**\n** **Note** this.\n*/"
    assert _clean_comment(text) == "CAPI3REF: Opening A New Database Connection\n\n**Note** this."


GLIBC_PROTOTYPES = """/* Lock a mutex.  */
extern int pthread_mutex_lock (pthread_mutex_t *__mutex)
     __THROWNL __nonnull ((1));

extern void abort (void) __THROW __attribute__ ((__noreturn__));
"""


def test_c_prototypes_with_trailing_macros_are_recovered_from_parse_errors() -> None:
    # tree-sitter-c cannot parse glibc's trailing __THROW/__nonnull macros: the
    # declaration is an ERROR node, so pthread.h had 15 function chunks instead of 139
    fc = _chunked("include/pthread.h", GLIBC_PROTOTYPES)
    funcs = {c.name: c for c in fc.chunks if c.kind == "FunctionDeclaration"}
    assert sorted(funcs) == ["abort", "pthread_mutex_lock"]
    lock = funcs["pthread_mutex_lock"]
    assert lock.doc == "Lock a mutex."
    assert (lock.start_row, lock.end_row) == (0, 2)
    assert lock.signature.startswith("extern int pthread_mutex_lock (pthread_mutex_t *__mutex)")
    assert [p["name"] for p in lock.params] == ["__mutex"]


def test_only_prototype_shaped_parse_errors_are_recovered() -> None:
    def proto(params: int) -> str:
        lines = "".join(f"   int a{i},\n" for i in range(params))
        return f"extern int wide (\n{lines}   int z) __THROW;\n"

    funcs = [c for c in _chunked("include/w.h", proto(20)).chunks if c.name == "wide"]
    assert [(c.kind, c.start_row, c.end_row) for c in funcs] == [("FunctionDeclaration", 0, 21)]
    # a parse error over more than 64 rows, or one whose declarator is not its last part
    assert not [c for c in _chunked("include/w.h", proto(70)).chunks if c.name == "wide"]
    broken = _chunked("include/b.h", "int f(void) __THROW; junk junk ((;\n")
    assert [c.name for c in broken.chunks if c.kind == "FunctionDeclaration"] == ["f"]


TS_NAMESPACES = """namespace Utils {
  export function pad(s: string) {
    return s;
  }
  export namespace Inner {
    export const f = () => 1;
  }
}
module Legacy {
  export function old() {}
}
declare module "fs" {
  export function readFile(path: string): string;
}
"""


def test_functions_in_rust_mods_and_ts_namespaces_are_functions() -> None:
    rs = _chunked("src/lib.rs", "mod inner {\n    pub fn helper() -> u32 {\n        1\n    }\n}\n")
    assert ("FunctionDeclaration", "inner.helper") in {(c.kind, c.name) for c in rs.chunks}
    # a top-level TS namespace (an expression statement around it) was not chunked at all
    ts = _chunked("src/u.ts", TS_NAMESPACES)
    assert {(c.kind, c.name) for c in ts.chunks} >= {
        ("ModuleDeclaration", "Utils"),
        ("FunctionDeclaration", "Utils.pad"),
        ("FunctionDeclaration", "Utils.Inner.f"),
        ("ModuleDeclaration", "Legacy"),
        ("FunctionDeclaration", "Legacy.old"),
        ("ModuleDeclaration", "fs"),
        ("FunctionDeclaration", "fs.readFile"),
    }
    rb = _chunked("lib/b.rb", "module Billing\n  def charge\n    1\n  end\nend\n")
    assert ("MethodDeclaration", "Billing.charge") in {(c.kind, c.name) for c in rb.chunks}


COMMONJS = """const path = require('path')

module.exports = function install (args) {
  return run(args)
}

exports.helper = (x) => {
  return x + 1
}

Foo.prototype.bar = function (a, b) {
  return 2
}

window.onload = function () {}
"""


@pytest.mark.parametrize("rel", ["lib/install.js", "lib/install.ts"])
def test_commonjs_and_prototype_function_assignments_are_chunks(rel: str) -> None:
    # npm-style CommonJS modules were one Module chunk: their functions had no chunk
    fc = _chunked(rel, COMMONJS)
    got = {c.name: c for c in fc.chunks if c.kind != "Module"}
    assert {n: (c.kind, c.exported) for n, c in got.items()} == {
        "install": ("FunctionDeclaration", True),
        "helper": ("FunctionDeclaration", True),
        "Foo.bar": ("MethodDeclaration", False),
        "window.onload": ("FunctionDeclaration", False),
    }
    assert got["install"].signature == "module.exports = function install (args)"
    assert [p["name"] for p in got["Foo.bar"].params] == ["a", "b"]
    anonymous = _chunked(rel, "module.exports = async (a) => {\n  return a\n}\n")
    assert [(c.kind, c.name) for c in anonymous.chunks] == [("FunctionDeclaration", "install")]


def test_go_grouped_type_declarations_are_one_chunk_each() -> None:
    # wrapped by the group, both specs spanned all of it and the last took every row
    src = "package x\n\ntype (\n\t// Point is a point.\n\tPoint struct {\n\t\tX int\n\t}\n"
    src += "\tShape interface {\n\t\tArea() float64\n\t}\n)\n"
    fc = _chunked("x/a.go", src)
    got = [(c.kind, c.name, c.start_row, c.end_row) for c in fc.chunks if c.kind != "Module"]
    assert got == [("StructDeclaration", "Point", 3, 6), ("InterfaceDeclaration", "Shape", 7, 9)]
    assert next(c for c in fc.chunks if c.name == "Point").doc == "Point is a point."


PY_CONDITIONAL = """try:
    from fast import speedup
except ImportError:
    def speedup(x):
        return x
if sys.version_info >= (3, 8):
    def new(): pass
else:
    def old(): pass
class A:
    if FLAG:
        def m(self): pass
def outer():
    if True:
        def local(): pass
"""


def test_python_definitions_under_if_try_with_are_chunks() -> None:
    # compat shims (except ImportError: def …) and version switches were Module lines
    fc = _chunked("pkg/compat.py", PY_CONDITIONAL)
    assert [(c.kind, c.name) for c in fc.chunks if c.kind != "Module"] == [
        ("FunctionDeclaration", "speedup"),
        ("FunctionDeclaration", "new"),
        ("FunctionDeclaration", "old"),
        ("ClassDeclaration", "A"),
        ("MethodDeclaration", "A.m"),
        ("FunctionDeclaration", "outer"),  # its local function stays in its body
    ]


def test_php_functions_under_function_exists_guards_are_chunks() -> None:
    src = "<?php\nif (!function_exists('wp_helper')) {\n    function wp_helper($x) {\n"
    src += "        return $x;\n    }\n} else {\n    function other() {}\n}\n"
    fc = _chunked("inc/helpers.php", src)
    names = [(c.kind, c.name) for c in fc.chunks if c.kind != "Module"]
    assert names == [("FunctionDeclaration", "wp_helper"), ("FunctionDeclaration", "other")]


def test_ruby_methods_in_class_self_blocks_are_the_class_methods() -> None:
    src = "class User\n  class << self\n    def find_active\n      1\n    end\n  end\n\n"
    src += "  def secret\n    2\n  end\nend\n"
    fc = _chunked("app/models/user.rb", src)
    got = [(c.kind, c.name) for c in fc.chunks if c.kind not in ("Module", "ClassBody")]
    assert got == [
        ("ClassDeclaration", "User"),
        ("MethodDeclaration", "User.find_active"),
        ("MethodDeclaration", "User.secret"),
    ]


RUBY_NESTED = """module Shop
  module Billing
    # Charges a card.
    # Retries once.
    class Charge < Base
      def empty(x = nil)
      end

      def run(a) # the entry point
        a
      end

      def short = 1
    end
  end
end
"""


def test_ruby_doc_of_a_class_first_in_a_module_and_header_signatures() -> None:
    # the comments before a module's first statement are outside its body: the nested
    # class's doc (every RuboCop cop's) was in the module's header chunk and signature
    fc = _chunked("lib/shop/charge.rb", RUBY_NESTED)
    got = {c.name: c for c in fc.chunks if c.kind not in ("Module", "ClassBody")}
    billing, charge = got["Shop.Billing"], got["Shop.Billing.Charge"]
    assert (billing.signature, billing.end_row) == ("module Billing", 1)
    assert (charge.start_row, charge.doc) == (2, "Charges a card.\nRetries once.")
    assert charge.signature == "class Charge < Base"
    # an empty method's signature ran through ``end``, a commented one into the comment
    assert got["Shop.Billing.Charge.empty"].signature == "def empty(x = nil)"
    assert got["Shop.Billing.Charge.run"].signature == "def run(a)"
    assert got["Shop.Billing.Charge.short"].signature == "def short"


RUBY_VISIBILITY = """class Store
  def self.build
  end

  def get(k)
  end

  private def load(k)
    k
  end

  protected

  def peer
  end

  private

  def self.factory
  end

  def helper
  end

  class << self
    def cached
    end
  end
end
"""


def test_ruby_private_def_sections_and_class_methods() -> None:
    # ``private def x`` had no chunk (the def is the call's argument); sections and
    # ``def self.x`` / ``class << self`` set no visibility, static nor exported
    fc = _chunked("lib/store.rb", RUBY_VISIBILITY)
    got = {
        c.name: (c.modifiers["visibility"], c.modifiers["static"], c.exported)
        for c in fc.chunks
        if c.kind == "MethodDeclaration"
    }
    assert got == {
        "Store.build": (None, True, True),
        "Store.get": (None, False, True),
        "Store.load": ("private", False, False),
        "Store.peer": ("protected", False, False),
        "Store.factory": (None, True, True),  # ``private`` does not apply to ``def self.``
        "Store.helper": ("private", False, False),
        "Store.cached": (None, True, True),  # ``class << self`` has its own sections
    }
    load = next(c for c in fc.chunks if c.name == "Store.load")
    assert (load.start_row, load.signature) == (7, "def load(k)")


TS_DECORATED = """@Component({ selector: 'app' })
export class AppComponent {
  @Input() title = '';

  /** Handles clicks. */
  @HostListener('click', ['$event'])
  @Throttle(100)
  onClick(e: Event): void {}
}
@Injectable()
class Service {}
"""


@pytest.mark.parametrize("rel", ["src/app.ts", "src/app.tsx"])
def test_ts_member_decorators_belong_to_their_method(rel: str) -> None:
    # the grammar makes a method's decorators class-body children before it: they were
    # the previous chunk's last lines, the doc above them was lost, decorators were empty
    fc = _chunked(rel, TS_DECORATED)
    got = {c.name: c for c in fc.chunks if c.kind != "Module"}
    click = got["AppComponent.onClick"]
    assert (click.start_row, click.end_row, click.doc) == (4, 7, "Handles clicks.")
    assert click.decorators == ("@HostListener('click', ['$event'])", "@Throttle(100)")
    assert click.signature == "onClick(e: Event): void"
    assert got["AppComponent"].end_row == 2
    assert got["AppComponent"].decorators == ("@Component({ selector: 'app' })",)
    # a class's own decorators are not its signature
    assert got["Service"].signature == "class Service"
    assert got["Service"].decorators == ("@Injectable()",)


def test_php_attributes_are_decorators_not_signature() -> None:
    src = "<?php\n#[Entity]\nfinal class Post\n{\n    #[Route('/p'), Cache]\n"
    src += "    #[Deprecated]\n    public function show(int $id): string\n    {\n"
    src += "        return '';\n    }\n}\n"
    fc = _chunked("src/Post.php", src)
    got = {c.name: c for c in fc.chunks if c.kind != "Module"}
    assert got["Post"].signature == "final class Post"
    assert got["Post"].decorators == ("#[Entity]",)
    show = got["Post.show"]
    assert show.signature == "public function show(int $id): string"
    assert show.decorators == ("#[Route('/p'), Cache]", "#[Deprecated]")


REACT_WRAPPED = """/** A button. */
export const Button = forwardRef(function Button(props, ref) {
  return <button ref={ref} {...props} />
})

export const List = React.memo(({ items }) => {
  return <ul>{items.length}</ul>
})

const Field = memo(forwardRef((props, ref) => <input ref={ref} />))

const total = sum(values)
"""


@pytest.mark.parametrize("rel", ["src/ui.tsx", "src/ui.jsx"])
def test_react_components_wrapped_in_forward_ref_or_memo_are_functions(rel: str) -> None:
    # const X = forwardRef(…) / memo(…) components were lines of a Module chunk
    fc = _chunked(rel, REACT_WRAPPED)
    got = {c.name: c for c in fc.chunks if c.kind == "FunctionDeclaration"}
    assert sorted(got) == ["Button", "Field", "List"]
    button = got["Button"]
    assert (button.start_row, button.end_row, button.doc) == (0, 3, "A button.")
    assert button.exported and [p["name"] for p in button.params] == ["props", "ref"]
    assert button.signature == "export const Button = forwardRef(function Button(props, ref)"
    assert [p["name"] for p in got["Field"].params] == ["props", "ref"]
    assert not got["Field"].exported


SHELL_SCRIPT = """#!/usr/bin/env bash
# Prints the usage.
usage() {
  echo "usage: x"
}

if command -v gdate >/dev/null; then
  now() { gdate +%s; }
elif [ -n "$EPOCHSECONDS" ]; then
  now() { echo "$EPOCHSECONDS"; }
else
  function now {
    date +%s
  }
fi
usage
"""


def test_shell_functions_under_if_and_no_shebang_doc() -> None:
    # the interpreter line was the first function's doc (and start); functions of an
    # if/elif/else portability switch were Module lines
    fc = _chunked("bin/tool.sh", SHELL_SCRIPT)
    funcs = [c for c in fc.chunks if c.kind == "FunctionDeclaration"]
    assert [(c.name, c.start_row) for c in funcs] == [
        ("usage", 1),
        ("now", 7),
        ("now", 9),
        ("now", 11),
    ]
    assert funcs[0].doc == "Prints the usage."


EXPORTED_OBJECTS = """export default {
  name: 'App',
  data() {
    return { x: 1 }
  },
  save: function (a) {
    return a
  },
}
module.exports = {
  meta: { type: 'problem' },
  create(context) {
    return {}
  },
}
"""


@pytest.mark.parametrize("rel", ["lib/rule.js", "lib/rule.ts"])
def test_functions_of_an_exported_object_are_chunks(rel: str) -> None:
    # ESLint rules (module.exports = { create(context) {…} }) and Vue-style options
    # objects kept all their code in one Module chunk
    fc = _chunked(rel, EXPORTED_OBJECTS)
    funcs = {c.name: c for c in fc.chunks if c.kind == "FunctionDeclaration"}
    assert sorted(funcs) == ["create", "data", "save"]
    assert all(c.exported for c in funcs.values())
    assert funcs["create"].signature == "create(context)"
    assert [p["name"] for p in funcs["save"].params] == ["a"]
    assert (funcs["data"].start_row, funcs["data"].end_row) == (2, 4)


def test_js_export_and_arrow_function() -> None:
    spec = detect("src/util.js")
    assert spec is not None
    fc = chunk_file("src/util.js", FILES["src/util.js"], spec, ChunkingLimits())
    clamp = next(c for c in fc.chunks if c.name == "clamp")
    assert clamp.exported
    assert clamp.calls == ("Math.min", "Math.max")
    assert fc.imports == ("fs",)


JS_FUNCTION_VALUES = """const getWorkspaces = async (filters, { path }) => {
  // TODO a better error
  const res = new Map()
  return res
}
export const add = (a, b) => a + b
let handler = function namedFn (req, res) { return 1 }
const one = x => x * 2
class A {
  method = (y) => {
    const z = y + 1
    return z
  }

  other (q) {
    return q
  }
}
"""


def test_js_function_values_stop_the_signature_at_their_body() -> None:
    """``const f = (…) => {…}`` and class fields holding a function: the signature is the
    text before the function's body (it ran on through the whole body) and the params
    are the function's (they were empty)."""
    fc = _chunked("src/values.js", JS_FUNCTION_VALUES)
    by_name = {c.name: c for c in fc.chunks}
    gw = by_name["getWorkspaces"]
    assert gw.signature == "const getWorkspaces = async (filters, { path }) =>"
    assert [p["name"] for p in gw.params] == ["filters", "path"]
    assert gw.modifiers["async"] is True
    assert by_name["add"].signature == "export const add = (a, b) =>"  # as written
    assert by_name["add"].exported
    assert by_name["handler"].signature == "let handler = function namedFn (req, res)"
    assert [p["name"] for p in by_name["handler"].params] == ["req", "res"]
    assert by_name["one"].params == ({"name": "x"},)
    assert by_name["A.method"].signature == "method = (y) =>"
    assert by_name["A.method"].params == ({"name": "y"},)


def test_ts_arrow_function_keeps_types_and_return_type() -> None:
    src = (
        "export const parse = async (input: string, n?: number): Promise<Out> => {\n"
        "  return run(input)\n}\n"
    )
    fc = _chunked("src/parse.ts", src)
    parse = next(c for c in fc.chunks if c.name == "parse")
    assert parse.signature == (
        "export const parse = async (input: string, n?: number): Promise<Out> =>"
    )
    assert parse.params == ({"name": "input", "type": "string"}, {"name": "n", "type": "number"})
    assert parse.returns == "Promise<Out>"
    assert parse.calls == ("run",)


def test_a_long_callee_keeps_its_tail() -> None:
    """A chain of calls longer than MAX_CALLEE keeps its end, where the base name is
    (``--calls join`` must find it), behind ``…``."""
    from pairofcleats.lang.treesitter import MAX_CALLEE

    chain = "[data.name]" + "".join(f".concat(data.part{i}.map(m => m.v))" for i in range(6))
    src = f"function f (data) {{\n  return {chain}.filter(Boolean).join(' ')\n}}\n"
    fc = _chunked("src/chain.js", src)
    calls = next(c for c in fc.chunks if c.name == "f").calls
    longest = max(calls, key=len)
    assert len(longest) == MAX_CALLEE
    assert longest.startswith("…")
    assert longest.endswith(".filter(Boolean).join")
    assert all(len(c) <= MAX_CALLEE for c in calls)


def test_keywords_come_from_grammar() -> None:
    assert {"def", "class", "return"} <= keywords("python")
    assert "identifier" not in keywords("python")


def test_oversize_function_is_windowed() -> None:
    body = "\n".join(f"    x{i} = {i}" for i in range(500))
    text = f"def big():\n{body}\n"
    fc = _chunked("big.py", text)
    spans = [c for c in fc.chunks if c.name == "big"]
    assert len(spans) > 1
    assert [c.span_index for c in spans] == list(range(len(spans)))
    assert all(c.kind == "FunctionDeclaration" for c in spans)


def test_broken_source_still_chunks() -> None:
    spec = detect("bad.py")
    assert spec is not None
    fc = chunk_file(
        "bad.py", "def ok():\n    return 1\n\ndef broken(:\n    pass\n", spec, ChunkingLimits()
    )
    assert ("FunctionDeclaration", "ok") in [(c.kind, c.name) for c in fc.chunks]


def test_calls_are_the_first_200_distinct_in_order() -> None:
    """Per-chunk calls: first-occurrence order, repeats dropped, capped at MAX_RELATIONS
    (also when a chunk's calls are interleaved with another chunk's rows)."""
    from pairofcleats.lang.treesitter import MAX_RELATIONS

    body = "".join(f"    f{i % 250}(x)\n    g(x)\n" for i in range(600))
    src = f"def a(x):\n{body}\n\ndef b(x):\n    h(x)\n    h(x)\n    a(x)\n\nk()\nk()\n"
    spec = detect("src/many.py")
    assert spec is not None
    fc = chunk_file("src/many.py", src, spec, ChunkingLimits(max_lines=10_000, max_bytes=1 << 20))
    by_name = {c.name: c for c in fc.chunks}
    expected = ["f0", "g", *(f"f{i}" for i in range(1, MAX_RELATIONS - 1))]
    assert list(by_name["a"].calls) == expected
    assert len(by_name["a"].calls) == MAX_RELATIONS
    assert by_name["b"].calls == ("h", "a")
    assert next(c for c in fc.chunks if c.kind == "Module").calls == ("k",)


_OLD_COMMENT_MARK = r"^\s*(?:/\*\*?|\*/|\*\*(?=\s|$)|\*(?!\*)|///?!?|#+|--|;+)\s?"


def _clean_comment_oracle(text: str) -> str:
    """The per-line loop ``_clean_comment`` keeps for multi-line text (its one-line path is
    checked against it)."""
    import re

    lines = []
    for line in text.splitlines():
        line = re.sub(_OLD_COMMENT_MARK, "", line, count=1).rstrip()
        if line.endswith("*/"):
            line = line[:-2].rstrip()
        lines.append(line)
    return "\n".join(lines).strip()


@given(st.text(alphabet=" \t#/*-;!ab\n\r\x0b\x1c\x85\u2028\xa0", max_size=30))
def test_clean_comment_one_line_path(text: str) -> None:
    from pairofcleats.lang.treesitter import _clean_comment

    assert _clean_comment(text) == _clean_comment_oracle(text)


@given(st.text(alphabet=" \t\n\r\x0b\x0c\x1c\x85\xa0\u2028\u3000ab", max_size=30))
def test_squash_and_split_joins_equal_the_whitespace_regex(text: str) -> None:
    """``_squash`` skips the regex when the only whitespace is single spaces; split/join
    forms replace ``\\s+`` subs followed by ``strip()`` (``\\s`` is ``str.isspace``)."""
    import re

    from pairofcleats.lang.treesitter import _squash

    ws = re.compile(r"\s+")
    assert _squash(text) == ws.sub(" ", text)
    assert " ".join(text.split()) == ws.sub(" ", text).strip()
    assert "".join(text.split()) == ws.sub("", text)


RUST_ATTRIBUTES = """impl Cell {
    /// Makes a cell.
    ///
    /// It starts empty.
    #[inline]
    #[must_use]
    pub fn new() -> Cell {
        Cell
    }
}

/// A cell.
#[derive(Debug)]
// a plain note between attributes
#[cfg(feature = "x")]
pub struct Cell;
"""


def test_rust_doc_comments_above_attributes_stay_with_their_item() -> None:
    # std and most crates put #[inline]/#[derive]/#[stable] between `///` and the item:
    # the doc and attributes fell into the ClassBody/Module run above (core/cell/once.rs)
    fc = _chunked("src/cell.rs", RUST_ATTRIBUTES)
    got = {c.name: c for c in fc.chunks if c.kind not in ("Module", "ClassBody")}
    new = got["Cell.new"]
    assert (new.start_row, new.end_row) == (1, 8)
    assert new.doc == "Makes a cell.\n\nIt starts empty."  # one line per `///`, no doubling
    assert new.decorators == ("#[inline]", "#[must_use]")
    cell = next(c for c in fc.chunks if c.kind == "StructDeclaration")
    assert (cell.start_row, cell.end_row) == (11, 15)
    assert cell.doc.startswith("A cell.")
    assert cell.decorators == ("#[derive(Debug)]", '#[cfg(feature = "x")]')
    assert not [c for c in fc.chunks if c.kind in ("Module", "ClassBody")]
    docs = [c.doc for c in fc.extracted if c.kind == "DocComment"]
    assert "Makes a cell.\n\nIt starts empty." in docs


RUST_IMPLS_AND_MACROS = """impl<T, A: Allocator> Clone for Rc<T, A> {
    fn clone(&self) -> Self {
        todo!()
    }
}

impl<'a, T> Iterator for &'a mut fmt::Iter<'a, T> {
    fn next(&mut self) -> Option<T> {
        None
    }
}

/// Adds them up.
#[macro_export]
macro_rules! sum {
    ($a:expr) => { $a };
    ($a:expr, $($b:tt)*) => { $a + sum!($($b)*) };
}

mod inner {
    macro_rules! helper [ () => {} ];
}
"""


def test_rust_impls_are_named_without_generics_and_macros_are_chunks() -> None:
    # alloc/rc.rs: methods were "Rc<T, A>.clone", "Rc<T>.new", "Rc<[T]>.…" (one type under
    # many names), and macro_rules! definitions (tokio's select!, serde's
    # forward_to_deserialize_any!) were lines of Module chunks
    fc = _chunked("src/rc.rs", RUST_IMPLS_AND_MACROS)
    got = {c.name: c for c in fc.chunks if c.kind != "Module"}
    assert {n: c.kind for n, c in got.items()} == {
        "Rc": "ImplDeclaration",
        "Rc.clone": "MethodDeclaration",
        "fmt.Iter": "ImplDeclaration",
        "fmt.Iter.next": "MethodDeclaration",
        "sum": "MacroDeclaration",
        "inner": "ModuleDeclaration",
        "inner.helper": "MacroDeclaration",
    }
    assert got["Rc"].signature == "impl<T, A: Allocator> Clone for Rc<T, A>"
    total = got["sum"]
    assert (total.start_row, total.end_row) == (12, 17)
    assert total.signature == "macro_rules! sum"
    assert total.doc == "Adds them up."
    assert total.exported and not got["inner.helper"].exported
    assert got["inner.helper"].signature == "macro_rules! helper"


CS_MEMBERS = """namespace Shop;

public sealed record Cart(int Id, string Owner = "me")
{
    /// <summary>The parser.</summary>
    public Func<string, int> Parser
        => text =>
        {
            return text.Length;
        };

    public int Count { get; private set; }

    public Item this[int index] => _items[index];

    public static Cart operator +(Cart a, Cart b) => a;

    public static implicit operator Cart(int id) => new(id);

    public event EventHandler Changed { add { } remove { } }

    public event EventHandler Closed;

    ~Cart() { }
}
"""


def test_csharp_properties_operators_events_are_member_chunks() -> None:
    # a record's 60-line `Parser => str => { … }` property was part of the record's header
    # chunk (InlineSusserGridParser.cs: rows 3-88), and interface/auto properties, operators
    # and events were ClassBody lines
    fc = _chunked("src/Cart.cs", CS_MEMBERS)
    got = {c.name: c for c in fc.chunks if c.kind not in ("Module", "ClassBody")}
    assert {n: c.kind for n, c in got.items()} == {
        "Cart": "ClassDeclaration",
        "Cart.Parser": "PropertyDeclaration",
        "Cart.Count": "PropertyDeclaration",
        "Cart.this": "PropertyDeclaration",
        "Cart.operator +": "MethodDeclaration",
        "Cart.operator Cart": "MethodDeclaration",
        "Cart.Changed": "EventDeclaration",
        "Cart.~Cart": "MethodDeclaration",
    }
    cart, parser = got["Cart"], got["Cart.Parser"]
    assert (cart.start_row, cart.end_row) == (2, 3)
    assert [p["name"] for p in cart.params] == ["Id", "Owner"]
    assert (parser.start_row, parser.end_row) == (4, 9)
    assert parser.signature == "public Func<string, int> Parser"
    assert parser.returns == "Func<string, int>"
    assert parser.doc == "The parser."
    assert got["Cart.Count"].signature == "public int Count"
    assert [p["name"] for p in got["Cart.this"].params] == ["index"]
    assert [p["name"] for p in got["Cart.operator +"].params] == ["a", "b"]


GO_SIGNATURES = """package x

// Bool is a bool.
type Bool struct {
\t_ noCopy // no copies
\tv uint32
}

type (
\tRoutes interface {
\t\tUse(...Handler) Routes
\t}
\tKind uint8
)

func (x *Bool) CompareAndSwap(old, new bool) (swapped bool) { return }

func Equal[E comparable](s1, s2 []E, rest ...string) bool { return true }
"""


def test_go_type_signatures_stop_at_the_body_and_shared_types_split_params() -> None:
    # sync/atomic/type.go: the signature of `type Bool struct {…}` was "Bool struct { _ noCopy
    # v uint32 }" (gin's IRoutes: 300 chars of method specs), and CompareAndSwap(old, new
    # bool) had the one param "old"
    fc = _chunked("x/a.go", GO_SIGNATURES)
    got = {c.name: c for c in fc.chunks if c.kind != "Module"}
    assert {n: c.signature for n, c in got.items() if n != "Bool.CompareAndSwap"} == {
        "Bool": "type Bool struct",
        "Routes": "type Routes interface",
        "Kind": "type Kind uint8",
        "Equal": "func Equal[E comparable](s1, s2 []E, rest ...string) bool",
    }
    assert got["Bool.CompareAndSwap"].params == (
        {"name": "old", "type": "bool"},
        {"name": "new", "type": "bool"},
    )
    assert [(p["name"], p.get("type")) for p in got["Equal"].params] == [
        ("s1", "[]E"),
        ("s2", "[]E"),
        ("rest", "...string"),
    ]


JAVA_RECORD_AND_ANNOTATION = """record Point(int x, int y) {
    /** Rejects negatives. */
    Point {
        if (x < 0) throw new IllegalArgumentException();
    }
}

@interface Since {
    /** The version. */
    String value() default "";
}
"""


def test_java_compact_constructors_and_annotation_elements_are_members() -> None:
    # a record's compact constructor was part of the record's header chunk, and an
    # annotation type's elements (java.lang.Deprecated's since()/forRemoval()) too
    fc = _chunked("src/Point.java", JAVA_RECORD_AND_ANNOTATION)
    got = {c.name: c for c in fc.chunks if c.kind not in ("Module", "ClassBody")}
    assert {n: (c.kind, c.start_row, c.end_row) for n, c in got.items()} == {
        "Point": ("ClassDeclaration", 0, 0),
        "Point.Point": ("ConstructorDeclaration", 1, 4),
        "Since": ("InterfaceDeclaration", 7, 7),
        "Since.value": ("MethodDeclaration", 8, 9),
    }
    assert got["Point.Point"].doc == "Rejects negatives."
    assert got["Since.value"].signature == 'String value() default ""'
    assert got["Since.value"].returns == "String"


CS_XML_DOC = """namespace N
{
    /// <summary>
    /// Reads the <see cref="T:Json.Token"/> at <paramref name="pos"/>, or <c>null</c>.
    /// </summary>
    /// <param name="pos">The offset.</param>
    /// <exception cref="ArgumentException">When negative.</exception>
    /// <returns>The token &lt;T&gt;.</returns>
    public class Reader { }
}
"""

JAVADOC_MARKUP = """/**
 * Returns the {@link List} of {@code items}; see {@link java.util.Map#get(Object) get}.
 * <p>Nulls &amp; blanks are skipped.
 * @param x the x
 */
public class Items { }
"""


def test_doc_markup_is_reduced_to_its_words() -> None:
    # C# XML doc tags and Javadoc inline tags filled headlines with <summary>, cref and
    # {@link: the reader's words are kept, references by their target or label
    cs = _chunked("src/Reader.cs", CS_XML_DOC)
    reader = next(c for c in cs.chunks if c.kind == "ClassDeclaration")
    assert reader.doc == (
        "Reads the Json.Token at pos, or null.\n\npos: The offset.\n"
        "Throws ArgumentException: When negative.\nReturns: The token <T>."
    )
    assert [e.doc for e in cs.extracted] == [reader.doc]
    java = _chunked("src/Items.java", JAVADOC_MARKUP)
    items = next(c for c in java.chunks if c.kind == "ClassDeclaration")
    assert items.doc == (
        "Returns the List of items; see get.\nNulls & blanks are skipped.\n@param x the x"
    )
    ts = _chunked("src/a.ts", "/** Wraps {@link Foo}: <T> stays. */\nexport function f() {}\n")
    assert next(c for c in ts.chunks if c.name == "f").doc == "Wraps Foo: <T> stays."


def test_member_exports_follow_their_language_rules() -> None:
    # TS methods of an exported class were never exported; PHP private methods always
    # were; Java interface methods (implicitly public) never were; Go lost a variadic's ...
    def exported(rel: str, src: str) -> dict[str, bool]:
        return {c.name: c.exported for c in _chunked(rel, src).chunks if "." in c.name}

    ts = "export class A {\n  run() {}\n  private hide() {}\n  #p() {}\n}\nclass B {\n  m() {}\n}\n"
    assert exported("src/a.ts", ts) == {"A.run": True, "A.hide": False, "A.#p": False, "B.m": False}
    php = (
        "<?php\nclass P {\n  public function a() {}\n  private function b() {}\n"
        "  function d() {}\n}\n"
    )
    assert exported("src/p.php", php) == {"P.a": True, "P.b": False, "P.d": True}
    java = "public interface I {\n  void f();\n  private void h() {}\n}\n"
    assert exported("src/I.java", java) == {"I.f": True, "I.h": False}
    go = _chunked(
        "a.go", "package a\nfunc Join(sep string, parts ...string) string { return sep }\n"
    )
    join = next(c for c in go.chunks if c.name == "Join")
    assert join.params == (
        {"name": "sep", "type": "string"},
        {"name": "parts", "type": "...string"},
    )


def test_destructuring_params_are_listed_by_name() -> None:
    # ``({ open, onClose = noop, title: heading, ...rest }: Props)`` was one param named by
    # the whole pattern, so ``--param onClose`` found no React component; ``[d, e]`` kept d
    tsx = "export function Dialog({ open, onClose = noop, title: heading, ...rest }: P) {}\n"
    dialog = next(c for c in _chunked("src/d.tsx", tsx).chunks if c.name == "Dialog")
    assert [p["name"] for p in dialog.params] == ["open", "onClose", "title", "rest"]
    js = "function f({ a, b: { c } }, [d, e = 1], ...more) { return 1 }\n"
    f = next(c for c in _chunked("src/f.js", js).chunks if c.name == "f")
    assert [p["name"] for p in f.params] == ["a", "b", "d", "e", "more"]
    ts = "function g(x: number, ...zs: number[]) {}\n"
    g = next(c for c in _chunked("src/g.ts", ts).chunks if c.name == "g")
    assert g.params == ({"name": "x", "type": "number"}, {"name": "zs", "type": "number[]"})


def test_import_and_param_names_are_kept_whole() -> None:
    # ``from urllib3.exceptions import …`` was stored as ``rllib3.exceptions`` (a string
    # prefix stripped from a name), ``**kwargs: Any`` was the param ``kwargs: Any``, and
    # CommonJS ``require("fs")`` was no import
    py = "from urllib3.exceptions import E\nimport bz2\n\n"
    py += "def f(*args: int, **kwargs: Any):\n    pass\n"
    fc = _chunked("src/a.py", py)
    assert fc.imports == ("urllib3.exceptions", "bz2")
    f = next(c for c in fc.chunks if c.name == "f")
    assert f.params == ({"name": "args", "type": "int"}, {"name": "kwargs", "type": "Any"})
    js = "const fs = require('fs');\nfunction g(n) { require(`./${n}`); return require(n); }\n"
    assert _chunked("src/b.js", js).imports == ("fs",)
    rb = 'require "json"\nrequire name\nrequire "a#{b}"\n'
    assert _chunked("lib/c.rb", rb).imports == ("json",)


def test_calls_of_function_literals_and_prompts_are_tidy() -> None:
    # an invoked literal (Go ``defer func() { … }()``) had its whole body, squashed, as the
    # callee, and a README's ``$ celery -A app`` the callee ``$ celery``
    go = "package a\nfunc f() {\n  defer func() {\n    if x { c.Abort() } else { h(c) }\n  }()\n}\n"
    f = next(c for c in _chunked("a.go", go).chunks if c.name == "f")
    assert f.calls == ("c.Abort", "h")
    md = "# Run\n\n```shell\n$ celery -A app worker\n$TOOL run\n```\n"
    assert [c.calls for c in _chunked("README.md", md).segment_chunks] == [("celery", "$TOOL")]


def _assert_disjoint_cover(src: str, chunks: Any) -> None:
    """Every row with a letter or digit in exactly one chunk (§4)."""
    owner: dict[int, Any] = {}
    for c in chunks:
        for r in range(c.start_row, c.end_row + 1):
            assert r not in owner, (r, owner[r], c)
            owner[r] = c
    for r, line in enumerate(split_lines(src)):
        assert r in owner or not any(ch.isalnum() for ch in line), (r, line)


RUBY_ATTRS = """# frozen_string_literal: true

module Faraday
  # Connection objects manage the default properties and the middleware
  # stack for fulfilling an HTTP request.
  class Connection
    extend Forwardable

    # @return [Hash] URI query unencoded key/value pairs.
    attr_reader :params

    attr_accessor :default_parallel_manager,
                  :proxy

    def_delegators :builder, :use, :request, :response, :adapter, :app

    class << self
      attr_accessor :default_adapter
    end

    class_attribute :registry, instance_writer: false

    METHODS.each do |method|
      define_method(method) { |url = nil| run_request(method.to_sym, url) }
    end

    define_method(:in_parallel?) { !!@parallel_manager }

    # Basic auth for this connection.
    define_method(:basic_auth) do |login, pass = nil, *rest|
      set_authorization_header(:basic_auth, login, pass)
    end

    %w[bearer token].each do |kind|
      define_method("#{kind}_auth") do |*args|
        headers[:authorization] = args
      end
    end

    define_singleton_method(:build) do |url, **options, &block|
      new(url, options, &block)
    end

    def params=(hash)
      @params.replace hash
    end

    private

    attr_writer :builder
    private attr_reader :secret
  end
end
"""


def test_ruby_attributes_and_define_method_are_member_chunks() -> None:
    # attr_* names and define_method(:x) methods were ClassBody/header lines: neither
    # --name nor --kind found them
    fc = _chunked("lib/faraday/connection.rb", RUBY_ATTRS)
    _assert_disjoint_cover(RUBY_ATTRS, fc.chunks)
    got = {c.name: c for c in fc.chunks if c.kind in ("PropertyDeclaration", "MethodDeclaration")}
    c = "Faraday.Connection."
    assert [(d.kind, n) for n, d in got.items()] == [
        ("PropertyDeclaration", c + "params"),
        ("PropertyDeclaration", f"{c}default_parallel_manager, {c}proxy"),  # one statement
        ("PropertyDeclaration", c + "default_adapter"),
        ("PropertyDeclaration", c + "registry"),
        ("MethodDeclaration", c + "in_parallel?"),
        ("MethodDeclaration", c + "basic_auth"),
        ("MethodDeclaration", c + "build"),
        ("MethodDeclaration", c + "params="),
        ("PropertyDeclaration", c + "builder"),
        ("PropertyDeclaration", c + "secret"),
    ]  # names built at run time ("#{kind}_auth", a loop variable) stay body lines
    params = got[c + "params"]
    assert (params.start_row, params.end_row) == (8, 9)
    assert params.doc == "@return [Hash] URI query unencoded key/value pairs."
    assert params.signature == "attr_reader :params"
    assert got[f"{c}default_parallel_manager, {c}proxy"].end_row == 12
    auth = got[c + "basic_auth"]
    assert (auth.start_row, auth.end_row, auth.doc) == (28, 31, "Basic auth for this connection.")
    assert auth.signature == "define_method(:basic_auth) do |login, pass = nil, *rest|"
    assert [p["name"] for p in auth.params] == ["login", "pass", "rest"]
    assert got[c + "in_parallel?"].signature == "define_method(:in_parallel?)"
    build = got[c + "build"]
    assert [p["name"] for p in build.params] == ["url", "options", "block"]
    mods = {
        n: (d.modifiers["static"], d.modifiers["visibility"], d.exported) for n, d in got.items()
    }
    assert mods[c + "default_adapter"] == (True, None, True)  # class << self
    assert mods[c + "registry"] == (True, None, True)  # class_attribute: class level
    assert mods[c + "build"] == (True, None, True)  # define_singleton_method
    assert mods[c + "params"] == (False, None, True)
    assert mods[c + "builder"] == (False, "private", False)  # a private section
    assert mods[c + "secret"] == (False, "private", False)  # private attr_reader
    assert got[c + "secret"].signature == "attr_reader :secret"


TS_OVERLOADS = """import { Readable } from 'stream';

/** Parses a document from a string or a buffer. */
export function parse(input: string): Document;
export function parse(input: Buffer, encoding?: BufferEncoding): Document;
export function parse(input: string | Buffer, encoding: BufferEncoding = 'utf8'): Document {
  const text = typeof input === 'string' ? input : input.toString(encoding);
  return new Parser(text).document();
}

export class Observable<T> {
  /* tslint:disable:max-line-length */
  pipe(): Observable<T>;
  pipe<A>(op1: OperatorFunction<T, A>): Observable<A>;
  pipe<A, B>(
    op1: OperatorFunction<T, A>,
    op2: OperatorFunction<A, B>
  ): Observable<B>;
  /* tslint:enable:max-line-length */

  /**
   * Used to stitch together functional operators into a chain.
   */
  pipe(...operations: OperatorFunction<any, any>[]): Observable<any> {
    return pipeFromArray(operations)(this);
  }

  toPromise(): Promise<T | undefined> {
    return lastValueFrom(this);
  }
}
"""

TS_DECLARATIONS = """/**
 * Creates a debounced function that delays invoking `func`.
 */
declare function debounce<T extends (...args: any) => any>(func: T, wait?: number): T;
declare function debounce<T extends (...args: any) => any>(
  func: T,
  options: DebounceSettings
): T;

export interface ChildProcess {
  on(event: 'close', listener: (code: number | null) => void): this;
  on(event: 'error', listener: (err: Error) => void): this;
  kill(signal?: NodeJS.Signals | number): boolean;
}
"""


@pytest.mark.parametrize("rel", ["src/parse.ts", "src/parse.tsx"])
def test_ts_overloads_are_one_chunk_with_their_implementation(rel: str) -> None:
    # each overload signature was a chunk of its own: three `parse` results
    fc = _chunked(rel, TS_OVERLOADS)
    _assert_disjoint_cover(TS_OVERLOADS, fc.chunks)
    got = [(c.kind, c.name) for c in fc.chunks if c.kind not in ("Module", "ClassBody")]
    assert got == [
        ("FunctionDeclaration", "parse"),
        ("ClassDeclaration", "Observable"),
        ("MethodDeclaration", "Observable.pipe"),
        ("MethodDeclaration", "Observable.toPromise"),
    ]
    by = {c.name: c for c in fc.chunks}
    parse = by["parse"]
    assert (parse.start_row, parse.end_row) == (2, 8)  # from the first signature's doc
    assert parse.doc == "Parses a document from a string or a buffer."
    assert parse.signature == (  # each overload's ``export``, as written
        "export function parse(input: string): Document; "
        "export function parse(input: Buffer, encoding?: BufferEncoding): Document; "
        "export function parse(input: string | Buffer, encoding: BufferEncoding = 'utf8'): "
        "Document"
    )
    assert [p["name"] for p in parse.params] == ["input", "encoding"]
    assert parse.params[0]["type"] == "string | Buffer"  # the implementation's
    assert parse.returns == "Document"
    assert parse.exported and fc.exports == ("parse", "Observable")
    pipe = by["Observable.pipe"]
    assert (pipe.start_row, pipe.end_row) == (11, 25)
    assert pipe.signature.startswith("pipe(): Observable<T>; pipe<A>(op1: OperatorFunction<T, A>)")
    assert pipe.signature.endswith(
        "; pipe(...operations: OperatorFunction<any, any>[]): Observable<any>"
    )
    assert [p["name"] for p in pipe.params] == ["operations", "op1", "op2"]
    assert pipe.returns == "Observable<T> | Observable<A> | Observable<B> | Observable<any>"
    # the JSDoc (on the implementation here, as rxjs writes it) comes first
    assert pipe.doc.startswith("Used to stitch together functional operators into a chain.")
    assert pipe.comment == ""  # `// tslint:enable:max-line-length`: a tool's, no words
    assert by["Observable.toPromise"].start_row == 27


def test_ts_declared_overloads_without_implementation_are_one_declaration() -> None:
    fc = _chunked("types/index.d.ts", TS_DECLARATIONS)
    _assert_disjoint_cover(TS_DECLARATIONS, fc.chunks)
    got = [(c.kind, c.name, c.start_row, c.end_row) for c in fc.chunks]
    assert got == [
        ("FunctionDeclaration", "debounce", 0, 7),
        ("InterfaceDeclaration", "ChildProcess", 9, 9),
        ("MethodDeclaration", "ChildProcess.on", 10, 11),
        ("MethodDeclaration", "ChildProcess.kill", 12, 12),
    ]
    debounce = fc.chunks[0]
    assert debounce.doc == "Creates a debounced function that delays invoking `func`."
    assert [p["name"] for p in debounce.params] == ["func", "wait", "options"]
    assert debounce.returns == "T"
    on = fc.chunks[2]
    assert on.signature == (
        "on(event: 'close', listener: (code: number | null) => void): this; "
        "on(event: 'error', listener: (err: Error) => void): this"
    )


SHELL_ONE_LINERS = """#!/usr/bin/env bash
# Helpers shared by the release scripts.
set -euo pipefail

# Logging, one line each.
info() { printf '==> %s\\n' "$*"; }; warn() { printf 'warning: %s\\n' "$*" >&2; }
die() { warn "$*"; exit 1; }

is_set() { [[ -n "${1:-}" ]]; }; require() {
  is_set "${!1:-}" || die "$1 is not set"
}

require VERSION
info "releasing $VERSION"
"""


def test_functions_sharing_a_line_are_one_chunk_named_by_each() -> None:
    # the last function on a line took it: `info` and `is_set` had no chunk at all. A
    # line is in one chunk only, so the functions on it share one, named by both
    fc = _chunked("scripts/lib.sh", SHELL_ONE_LINERS)
    _assert_disjoint_cover(SHELL_ONE_LINERS, fc.chunks)
    funcs = [c for c in fc.chunks if c.kind == "FunctionDeclaration"]
    got = [(c.name, c.start_row, c.end_row, c.signature) for c in funcs]
    assert got == [
        ("info, warn", 4, 5, "info(); warn()"),
        ("die", 6, 6, "die()"),
        ("is_set, require", 8, 10, "is_set(); require()"),  # the second runs on
    ]
    assert funcs[0].doc == "Logging, one line each."
    assert funcs[0].calls == ("printf",)
    assert fc.exports == ("info", "warn", "die", "is_set", "require")


def test_js_functions_sharing_a_line_are_one_chunk() -> None:
    src = "function a(x) { return x }; function b(y, z) { return y + z }\nexport const c = 1\n"
    fc = _chunked("lib/tiny.js", src)
    f = fc.chunks[0]
    assert (f.kind, f.name, f.start_row, f.end_row) == ("FunctionDeclaration", "a, b", 0, 0)
    assert [p["name"] for p in f.params] == ["x", "y", "z"]


def test_a_minified_line_is_named_by_its_first_definitions_only() -> None:
    # a bundler's one line holds every definition of the library: a name of all of them
    # matched every name query, so the chunk is named by eight and counts the rest
    src = "".join(f"function f{i}(a){{return a+{i}}};" for i in range(40)) + "\n"
    fc = _chunked("vendor/lib.bundle.js", src)
    assert len(fc.chunks) == 1
    c = fc.chunks[0]
    assert c.name == ", ".join(f"f{i}" for i in range(8)) + " (+32 more)"
    assert fc.exports == ()  # a script exports nothing, however many it defines
    assert len(c.signature) <= 300


ZOD_REGEXES = """import * as core from "../core/index.js";

/**
 * @deprecated CUID v1 is deprecated by its authors due to information leakage.
 */
export const cuid: RegExp = /^[cC][0-9a-z]{6,}$/;
export const email: RegExp =
  /^(?!\\.)(?!.*\\.\\.)([A-Za-z0-9_'+\\-\\.]*)[A-Za-z0-9_+-]@([A-Za-z0-9][A-Za-z0-9\\-]*\\.)+[A-Za-z]{2,}$/;
const DIGITS = "0123456789";
const HEX = "abcdef";

/** Default options of every check. */
export const config = {
  jitless: false,
  localeError: undefined,
  customError(issue) {
    return issue.message;
  },
};

export const ZodString: core.$constructor<ZodString> = /*@__PURE__*/ core.$constructor<ZodString>(
  "ZodString",
  (inst, def) => {
    core.$ZodString.init(inst, def);
    inst.email = (params) => inst.check(core._email(ZodEmail, params));
  }
);

export const uuid = (version?: number): RegExp => new RegExp(`^${version}$`);
export const { parse, safeParse } = core, VERSION = "4.0.0";

const axios = createInstance(DIGITS + HEX);
export default axios;
"""


def test_exported_top_level_variables_are_named_chunks() -> None:
    # zod's whole public API is exported consts: they were lines of Module chunks, so
    # --name/--kind and the name boost never saw `email` or `ZodString`
    fc = _chunked("src/v4/core/regexes.ts", ZOD_REGEXES)
    _assert_disjoint_cover(ZOD_REGEXES, fc.chunks)
    got = [(c.kind, c.name, c.start_row, c.end_row) for c in fc.chunks]
    assert got == [
        ("Module", "regexes", 0, 0),
        ("VariableDeclaration", "cuid", 2, 5),
        ("VariableDeclaration", "email", 6, 7),
        ("Module", "regexes", 8, 9),  # not exported: stays a Module line, as elsewhere
        ("VariableDeclaration", "config", 11, 18),
        ("VariableDeclaration", "ZodString", 20, 26),
        ("FunctionDeclaration", "uuid", 28, 28),  # a function value stays a function
        ("VariableDeclaration", "parse, safeParse, VERSION", 29, 29),
        ("VariableDeclaration", "axios", 31, 31),  # exported by `export default axios`
        ("Module", "regexes", 32, 32),
    ]
    by_name = {c.name: c for c in fc.chunks}
    cuid, email, config, zod_string = (by_name[n] for n in ("cuid", "email", "config", "ZodString"))
    assert all(c.exported and c.modifiers["exported"] for c in (cuid, email, config, zod_string))
    assert cuid.signature == "export const cuid: RegExp = /^[cC][0-9a-z]{6,}$/"
    assert cuid.doc.startswith("@deprecated CUID v1")
    assert email.signature == "export const email: RegExp = /…/"
    assert config.signature == "export const config = {…}"
    assert config.doc == "Default options of every check."
    assert zod_string.signature == (
        "export const ZodString: core.$constructor<ZodString> = core.$constructor(…)"
    )
    assert zod_string.params == () and zod_string.returns is None
    assert "core.$ZodString.init" in zod_string.calls
    assert by_name["axios"].signature == "const axios = createInstance(DIGITS + HEX)"
    assert by_name["parse, safeParse, VERSION"].signature == (
        'export const { parse, safeParse } = core, VERSION = "4.0.0"'
    )
    assert fc.exports == (
        "cuid",
        "email",
        "config",
        "ZodString",
        "uuid",
        "parse",
        "safeParse",
        "VERSION",
        "axios",
    )


def test_local_exports_mark_functions_and_commonjs_values_exported() -> None:
    src = "function helper() {}\nfunction inner() {}\nexport { helper as run };\n"
    fc = _chunked("lib/run.js", src)
    assert [(c.name, c.exported) for c in fc.chunks[:2]] == [("helper", True), ("inner", False)]
    cjs = "const axios = createInstance(defaults);\nmodule.exports = axios;\n"
    fc = _chunked("dist/node/axios.cjs", cjs)
    assert [(c.kind, c.name, c.exported) for c in fc.chunks] == [
        ("VariableDeclaration", "axios", True),
        ("Module", "axios", False),
    ]


AXIOS_DTS = """/** Sends a request. */
export declare function request(url: string): Promise<void>;
declare function isCancel(value: any): value is Cancel;
declare class Axios {
  constructor(config?: AxiosRequestConfig);
  get(url: string): Promise<void>;
  private secret(): void;
}
interface AxiosStatic extends AxiosInstance {
  create(): AxiosInstance;
}
declare const axios: AxiosStatic;
export default axios;

declare module "axios/lib" {
  function mergeConfig(a: object, b: object): object;
  const VERSION: string;
}
declare namespace Internal {
  function helper(): void;
}
"""


def test_dts_declarations_are_the_modules_api() -> None:
    # `declare function` in a .d.ts was not exported, nor `export declare function`
    # (whose JSDoc above the `export` was lost too)
    fc = _chunked("index.d.ts", AXIOS_DTS)
    _assert_disjoint_cover(AXIOS_DTS, fc.chunks)
    got = {c.name: c for c in fc.chunks}
    for name in (
        "request",
        "isCancel",
        "Axios",
        "Axios.get",
        "AxiosStatic",
        "AxiosStatic.create",
        "axios",
        "axios/lib",
        "axios/lib.mergeConfig",
        "axios/lib.VERSION",
        "Internal.helper",
    ):
        assert got[name].exported, name
    assert not got["Axios.secret"].exported
    assert got["request"].doc == "Sends a request."
    assert got["axios"].kind == "VariableDeclaration"
    assert got["axios"].signature == "declare const axios: AxiosStatic"
    assert set(fc.exports) >= {"request", "isCancel", "Axios", "AxiosStatic", "axios"}


def test_ambient_declarations_of_a_ts_file_are_not_its_exports() -> None:
    # a .ts file's top-level `declare` names a global defined elsewhere; an augmented
    # module's members are that module's API
    src = (
        "declare function h(): void;\ndeclare const __DEV__: boolean;\n"
        'declare module "express" {\n  interface Request { user?: User }\n}\n'
    )
    fc = _chunked("src/env.ts", src)
    got = {c.name: c for c in fc.chunks}
    assert not got["h"].exported
    assert "__DEV__" not in got  # not exported: a line of the Module chunk
    assert got["express.Request"].exported


ZOD_API = """import * as schemas from "./schemas.js";

///////////////////////////////////////////
////////////      ZodType      ////////////
///////////////////////////////////////////
export const ZodType = /*@__PURE__*/ core.$constructor("ZodType", (inst, def) => {
  inst.def = def;
});

/** Creates a string schema with the given params. */
// @__NO_SIDE_EFFECTS__
export function _string(Class, params) {
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  const p = params as any;
  // @ts-ignore
  return new Class({ type: "string", ...normalizeParams(p) });
}

/*@__NO_SIDE_EFFECTS__*/
export function _number(Class) {
  return new Class({ type: "number" });
}

// ------------------------------------------
// Parses the input, throwing on failure.
// ------------------------------------------
export function parse(schema, value) {
  return schema.parse(value);
}
"""


def test_annotation_and_banner_comments_are_no_doc() -> None:
    # `@__NO_SIDE_EFFECTS__` was the doc (and headline) of 583 zod functions, a banner
    # of slashes the doc of every section's first schema
    fc = _chunked("src/v4/core/api.ts", ZOD_API)
    _assert_disjoint_cover(ZOD_API, fc.chunks)
    got = {c.name: c for c in fc.chunks}
    zod_type, string, number, parse = (got[n] for n in ("ZodType", "_string", "_number", "parse"))
    assert (zod_type.start_row, string.start_row, number.start_row) == (2, 9, 18)
    assert zod_type.doc == ""  # headline falls back to the name
    assert "ZodType" in zod_type.comment  # a banner's words stay in the comment text
    assert string.doc == "Creates a string schema with the given params."
    assert number.doc == ""
    assert parse.doc == "Parses the input, throwing on failure."
    for c in fc.chunks:  # a tool's directive is neither doc nor comment
        assert not re.search(r"__PURE__|NO_SIDE_EFFECTS|eslint|ts-ignore", c.doc + c.comment)
    texts = [(e.kind, e.doc) for e in fc.extracted]
    assert not any(re.search(r"__PURE__|NO_SIDE|eslint|ts-ignore", t) for _, t in texts)
    assert any(k == "Comment" and "ZodType" in t for k, t in texts)  # a title, no DocComment


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("@__NO_SIDE_EFFECTS__", True),
        ("#__PURE__", True),
        ("@ts-expect-error length is a number", True),
        ("eslint-disable-next-line no-console", True),
        ("eslint no-console: 0", True),
        ("global window, document", True),
        ("type: ignore[attr-defined]", True),
        ("go:generate stringer -type=Kind", True),
        ("rubocop:disable Metrics/AbcSize", True),
        ("eslint is the linter we use", False),
        ("global state is shared by every worker", False),
        ("global cache", False),  # two words: prose, not an eslint global list
        ("exported names", False),
        ("global window: true", True),
        ("exported parse, format", True),
        ("region of the map to draw", False),
        ("Returns the parsed value.", False),
    ],
)
def test_tool_annotations(text: str, expected: bool) -> None:
    assert is_annotation(text) is expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("//////// ZodBase64 ////////", True),
        ("------------------------------------------", True),
        ("==== Helpers ====", True),
        ("//////////\n////     ////\n//// ZodType ////\n//////////", True),
        ("MARK: - Networking", True),
        ("Parses the input --- and throws.", False),
        ("Parses the input.", False),
    ],
)
def test_banners(text: str, expected: bool) -> None:
    assert is_banner(text) is expected


RUBY_CONCERN = """# Tracks changes to a model.
module Trackable
  extend ActiveSupport::Concern

  included do
    # The events recorded for this record.
    attr_accessor :tracked_events
    has_many :events, as: :trackable

    # Records one event.
    def track!(name)
      tracked_events << name
    end

    private

    def flush_events
      events.create!(tracked_events)
    end
  end

  class_methods do
    # Every model that includes Trackable.
    def tracked_models
      @tracked_models ||= []
    end

    cattr_reader :registry
    attr_writer :tracker
  end

  def tracked?
    tracked_events.any?
  end
end

User.class_eval do
  def admin?
    role == "admin"
  end
end

RSpec.describe Trackable do
  def helper; end
end
"""


def test_ruby_concern_blocks_are_members_of_their_module() -> None:
    # the defs and attr_* inside `included do`/`class_methods do` were ClassBody lines
    fc = _chunked("app/models/concerns/trackable.rb", RUBY_CONCERN)
    _assert_disjoint_cover(RUBY_CONCERN, fc.chunks)
    members = [
        (c.kind, c.name, c.modifiers["static"], c.modifiers["visibility"], c.exported)
        for c in fc.chunks
        if c.kind in ("MethodDeclaration", "PropertyDeclaration", "ClassDeclaration")
    ]
    assert members == [
        ("PropertyDeclaration", "Trackable.tracked_events", False, None, True),
        ("MethodDeclaration", "Trackable.track!", False, None, True),
        ("MethodDeclaration", "Trackable.flush_events", False, "private", False),
        ("MethodDeclaration", "Trackable.tracked_models", True, None, True),  # class_methods
        ("PropertyDeclaration", "Trackable.registry", True, None, True),
        ("PropertyDeclaration", "Trackable.tracker", True, None, True),
        ("MethodDeclaration", "Trackable.tracked?", False, None, True),
        ("ClassDeclaration", "User", False, None, True),  # User.class_eval reopens User
        ("MethodDeclaration", "User.admin?", False, None, True),
    ]
    got = {c.name: c for c in fc.chunks if c.kind != "ClassBody"}
    assert got["Trackable.track!"].doc == "Records one event."
    assert got["Trackable.tracked_models"].doc == "Every model that includes Trackable."
    assert got["Trackable.tracked_events"].doc == "The events recorded for this record."
    assert got["User"].signature == "User.class_eval do"
    assert "helper" not in " ".join(got)  # an RSpec block's def is no member of anything


EVENTS_DTS = """/** Something that holds resources. */
export interface Disposable { dispose(): void }

export declare class Emitter<T> { on(name: string, fn: (e: T) => void): this; off(e: string): this }

export interface Point { x: number; y: number; toJSON(): object }

/** Makes an emitter. */
declare function createEmitter<T>(): Emitter<T>;

declare module "events-lite" {
  export function once(name: string): Promise<void>;
}
"""

LOGGER_TS = """import { Emitter } from "./events";

/** Calls `fn` once `ms` have passed without another call. */
export const debounce = <F extends (...args: never[]) => void>(fn: F, ms = 100) => {
  let timer: ReturnType<typeof setTimeout> | undefined;
  return (...args: Parameters<F>) => {
    clearTimeout(timer);
    timer = setTimeout(() => fn(...args), ms);
  };
};

class NoopLogger { log(): void {} }; export function createLogger() { return new NoopLogger(); }

export class Logger {
  constructor(private readonly out: Emitter<string>) {}
}
"""


def test_one_line_types_win_their_line_over_their_members() -> None:
    # the members of a one-line interface/class took its line (innermost owner), so the
    # type had no chunk: ``Emitter`` was two method chunks ``Emitter.on``, ``Emitter.off``
    fc = _chunked("src/events.d.ts", EVENTS_DTS)
    got = [(c.kind, c.name, c.start_row, c.end_row, c.signature) for c in fc.chunks]
    assert got[:3] == [
        (
            "InterfaceDeclaration",
            "Disposable",
            0,
            1,
            "export interface Disposable { dispose(): void }",
        ),
        (
            "ClassDeclaration",
            "Emitter",
            3,
            3,
            "export declare class Emitter<T> { on(name: string, fn: (e: T) => void): this; "
            "off(e: string): this }",
        ),
        ("InterfaceDeclaration", "Point", 5, 5, "export interface Point { toJSON(): object }"),
    ]
    by = {c.name: c for c in fc.chunks}
    assert by["Disposable"].doc == "Something that holds resources."
    assert by["Emitter"].exported and "Emitter.on" not in by
    # a multi-line type keeps its members' chunks
    fc = _chunked("src/log.ts", LOGGER_TS)
    assert [(c.kind, c.name) for c in fc.chunks][-2:] == [
        ("ClassDeclaration", "Logger"),
        ("MethodDeclaration", "Logger.constructor"),
    ]


def test_a_type_and_a_function_sharing_a_line_are_one_chunk_named_by_both() -> None:
    # ``class NoopLogger {…}; export function createLogger() {…}``: the function took the
    # line and the class had no chunk
    fc = _chunked("src/log.ts", LOGGER_TS)
    shared = next(c for c in fc.chunks if c.start_row == 11)
    assert (shared.kind, shared.name, shared.end_row) == (
        "ClassDeclaration",
        "NoopLogger, createLogger",
        11,
    )
    assert shared.signature == "class NoopLogger { log(): void }; export function createLogger()"
    assert shared.exported and shared.calls == ("NoopLogger",)
    # the file exports what the source exports: createLogger, not NoopLogger
    assert fc.exports == ("debounce", "createLogger", "Logger")


def test_signatures_keep_export_const_and_declare_as_written() -> None:
    # ``export const debounce = …`` had the signature ``const debounce = …`` (exported
    # variables kept their ``export``), ``declare function``/``declare module`` lost
    # their ``declare``
    fc = _chunked("src/log.ts", LOGGER_TS)
    debounce = next(c for c in fc.chunks if c.name == "debounce")
    assert debounce.signature == (
        "export const debounce = <F extends (...args: never[]) => void>(fn: F, ms = 100) =>"
    )
    assert [p["name"] for p in debounce.params] == ["fn", "ms"]
    by = {c.name: c for c in _chunked("src/events.d.ts", EVENTS_DTS).chunks}
    assert by["createEmitter"].signature == "declare function createEmitter<T>(): Emitter<T>"
    assert by["createEmitter"].doc == "Makes an emitter."
    assert by["events-lite"].signature == 'declare module "events-lite"'
    # members of the ambient body are written as they are, without the body's ``declare``
    assert by["events-lite.once"].signature == "export function once(name: string): Promise<void>"


EXPORTS_TS = """import { Injectable } from "@angular/core";

/** Quotes a value for a shell. */
export function quote(value: string): string {
  return `'${value}'`;
}

export async function fetchUser(id: number): Promise<User> {
  return (await fetch(`/users/${id}`)).json();
}

export default function createStore<S>(reducer: Reducer<S>): Store<S> {
  return new Store(reducer);
}

export class Store<S> {
  dispatch(action: Action): void {}
}

export abstract class Repository<T> {
  abstract find(id: number): T;
}

@Injectable({ providedIn: "root" })
export class UserService {}

export interface User {
  id: number;
  name: string;
}

export type Id = string | number;

type Opt = { a: number };

export type Handler = (
  req: Request,
  res: Response,
) => void;

export enum Color {
  Red,
  Green,
}

export const clamp = (n: number, lo: number, hi: number) => Math.min(hi, Math.max(lo, n));
"""


def test_every_exported_declaration_signature_starts_as_written() -> None:
    # ``export const f = …`` and ``export declare class`` kept their ``export``, but
    # ``export function q`` / ``export class X`` / ``export default function`` started at
    # ``function``/``class``: the signature is the source's, wrapper words included, never
    # the wrapper's decorators
    fc = _chunked("src/store.ts", EXPORTS_TS)
    sigs = {c.name: c.signature for c in fc.chunks if c.kind != "Module"}
    assert sigs == {
        "quote": "export function quote(value: string): string",
        "fetchUser": "export async function fetchUser(id: number): Promise<User>",
        "createStore": "export default function createStore<S>(reducer: Reducer<S>): Store<S>",
        "Store": "export class Store<S>",
        "Store.dispatch": "dispatch(action: Action): void",
        "Repository": "export abstract class Repository<T>",
        "Repository.find": "abstract find(id: number): T",
        "UserService": "export class UserService",
        "User": "export interface User",
        "Id": "export type Id = string | number",
        "Opt": "type Opt = { a: number }",
        "Handler": "export type Handler = ( req: Request, res: Response, ) => void",
        "Color": "export enum Color",
        "clamp": "export const clamp = (n: number, lo: number, hi: number) =>",
    }
    by = {c.name: c for c in fc.chunks}
    assert by["UserService"].decorators == ('@Injectable({ providedIn: "root" })',)
    assert by["quote"].doc == "Quotes a value for a shell."
    assert by["fetchUser"].modifiers["async"] and by["fetchUser"].exported
    # the same in JavaScript
    js = "export default class App {}\nexport function* ids() {}\n"
    got = {c.name: c.signature for c in _chunked("src/app.js", js).chunks}
    assert got == {"App": "export default class App", "ids": "export function* ids()"}


def test_type_alias_signatures_are_the_declaration_or_its_head_and_first_line() -> None:
    # ``type Opt = { a: number }`` had the signature ``type Opt =``: cut at the object
    # type's ``{`` as if it were a body
    routes = "\n".join(f'  route{i}: "/path/number/{i}";' for i in range(40))
    src = (
        "/** Options. */\ntype Opt = { a: number }\n"
        "export declare type Key = string;\n"
        "export type Point = {\n  x: number;\n  y: number;\n};\n"
        f'export type Routes = {{\n  home: "/";\n{routes}\n}};\n'
        'export type Action =\n  | { type: "add"; id: number }\n  | { type: "clear" };\n'
    )
    fc = _chunked("src/types.ts", src)
    got = {c.name: (c.start_row, c.signature) for c in fc.chunks if c.kind == "TypeAlias"}
    assert got == {
        "Opt": (0, "type Opt = { a: number }"),
        "Key": (2, "export declare type Key = string"),
        "Point": (3, "export type Point = { x: number; y: number; }"),
        # over the signature cap: the head through ``=`` and the value's first line
        "Routes": (7, "export type Routes = {"),
        "Action": (
            50,
            'export type Action = | { type: "add"; id: number } | { type: "clear" }',
        ),
    }
