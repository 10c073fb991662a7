"""The regex definition chunker (languages without a grammar wheel)."""

from __future__ import annotations

from pairofcleats.lang import ChunkingLimits, chunk_file
from pairofcleats.lang.model import ChunkDraft
from pairofcleats.lang.registry import detect

KOTLIN = """package app

class Repo(private val db: Db) {
    fun find(id: Long): User? {
        return db.get(id)
    }

    class Inner {
        fun deep() {}
    }

    suspend fun save(user: User) {
        db.put(user)
    }
}

fun main() {
    println("hi")
}
"""


def test_members_indented_under_a_type_are_its_methods() -> None:
    # flat before: "find", "save" and "deep" were top-level functions
    spec = detect("app/Repo.kt")
    assert spec is not None
    fc = chunk_file("app/Repo.kt", KOTLIN, spec, ChunkingLimits())
    assert [(c.kind, c.name) for c in fc.chunks if c.kind != "Module"] == [
        ("ClassDeclaration", "Repo"),
        ("MethodDeclaration", "Repo.find"),
        ("ClassDeclaration", "Repo.Inner"),
        ("MethodDeclaration", "Repo.Inner.deep"),
        ("MethodDeclaration", "Repo.save"),
        ("FunctionDeclaration", "main"),
    ]


def test_swift_extension_members_and_lua_dotted_names() -> None:
    swift = "extension Point: Shape {\n    func area() -> Double { 0 }\n}\nfunc free() {}\n"
    spec = detect("a.swift")
    assert spec is not None
    fc = chunk_file("a.swift", swift, spec, ChunkingLimits())
    assert [(c.kind, c.name) for c in fc.chunks] == [
        ("ClassDeclaration", "Point"),
        ("MethodDeclaration", "Point.area"),
        ("FunctionDeclaration", "free"),
    ]
    lua = detect("m.lua")
    assert lua is not None
    fc = chunk_file(
        "m.lua", "local M = {}\nfunction M.greet(n)\n  return n\nend\n", lua, ChunkingLimits()
    )
    assert ("FunctionDeclaration", "M.greet") in [(c.kind, c.name) for c in fc.chunks]


def _regex(rel: str, text: str) -> list[ChunkDraft]:
    spec = detect(rel)
    assert spec is not None
    return list(chunk_file(rel, text, spec, ChunkingLimits()).chunks)


KOTLIN_ANNOTATED = """class Challenge(val scheme: String) {
  /** Returns a copy with [charset]. */
  fun withCharset(charset: Charset): Challenge {
    return this
  }

  @JvmName("-deprecated_scheme")
  @Deprecated(
    message = "moved to val",
    level = DeprecationLevel.ERROR,
  )
  fun scheme(): String = scheme

  companion object {
    @JvmStatic fun parse(s: String): Challenge = Challenge(s)
  }

  fun interface Listener { fun on() }
  enum class Kind { A, B }
}
typealias Id = Long
"""


def test_kotlin_docs_and_annotations_belong_to_the_definition_below() -> None:
    # they ended the chunk before (the class header, the previous method): no chunk had
    # a doc, and inline annotations or ``fun interface`` hid or misnamed definitions
    got = {c.name: c for c in _regex("okhttp/Challenge.kt", KOTLIN_ANNOTATED)}
    assert [(c.kind, n) for n, c in got.items()] == [
        ("ClassDeclaration", "Challenge"),
        ("MethodDeclaration", "Challenge.withCharset"),
        ("MethodDeclaration", "Challenge.scheme"),
        ("ClassDeclaration", "Challenge.Companion"),
        ("MethodDeclaration", "Challenge.Companion.parse"),
        ("InterfaceDeclaration", "Challenge.Listener"),
        ("EnumDeclaration", "Challenge.Kind"),
        ("TypeAlias", "Id"),
    ]
    with_charset = got["Challenge.withCharset"]
    assert (with_charset.start_row, with_charset.doc) == (1, "Returns a copy with [charset].")
    assert with_charset.signature == "fun withCharset(charset: Charset): Challenge"
    assert got["Challenge"].end_row == 0
    scheme = got["Challenge.scheme"]
    assert (scheme.start_row, scheme.end_row) == (6, 11)
    assert scheme.decorators == (
        '@JvmName("-deprecated_scheme")',
        '@Deprecated( message = "moved to val", level = DeprecationLevel.ERROR, )',
    )


SWIFT_MEMBERS = """/// A session.
public final class Session {
    /// Creates one.
    public convenience init(configuration: Configuration = .default) {
        self.init()
    }

    @objc dynamic func tapped(_ sender: Any) {}
    @MainActor public func refresh() async throws {}
    class func make() -> Session { Session() }
    nonisolated func id() -> Int { 1 }
    deinit {}
}

public actor Store {
    func put() {}
}
public typealias Handler = (Int) -> Void
"""


def test_swift_initialisers_attributes_class_funcs_and_actors() -> None:
    # ``class func make`` was a class named "func" that swallowed the rest of the type;
    # attributed, nonisolated and convenience members, inits, actors were not found
    got = [(c.kind, c.name, c.start_row) for c in _regex("Sources/Session.swift", SWIFT_MEMBERS)]
    assert got == [
        ("ClassDeclaration", "Session", 0),
        ("MethodDeclaration", "Session.init", 2),
        ("MethodDeclaration", "Session.tapped", 7),
        ("MethodDeclaration", "Session.refresh", 8),
        ("MethodDeclaration", "Session.make", 9),
        ("MethodDeclaration", "Session.id", 10),
        ("MethodDeclaration", "Session.deinit", 11),
        ("ClassDeclaration", "Store", 14),
        ("MethodDeclaration", "Store.put", 15),
        ("TypeAlias", "Handler", 17),
    ]
    assert _regex("Sources/Session.swift", SWIFT_MEMBERS)[0].doc == "A session."


def test_lua_comment_lines_are_the_function_doc() -> None:
    src = "local M = {}\n\n-- Greets someone.\n-- Loudly.\nfunction M.greet(n)\n  return n\nend\n"
    greet = next(c for c in _regex("m.lua", src) if c.name == "M.greet")
    assert (greet.start_row, greet.doc) == (2, "Greets someone.\nLoudly.")


def test_lua_methods_and_assigned_functions() -> None:
    # ``function M:greet`` was named ``M:greet`` and ``M.helper = function`` was no chunk
    src = (
        "local M = {}\nfunction M:greet(n)\n  return n\nend\nM.helper = function(x) return x end\n"
    )
    got = [(c.kind, c.name, c.start_row) for c in _regex("m.lua", src) if c.kind != "Module"]
    assert got == [("FunctionDeclaration", "M.greet", 1), ("FunctionDeclaration", "M.helper", 4)]


DART = """/// Observers, in order.
class ObserverList<T> extends Iterable<T> {
  final List<T> _list = <T>[];

  const ObserverList({
    this.a,
  });

  factory ObserverList.fromJson(Map j) {
    return ObserverList();
  }

  /// Adds an item.
  @override
  void add(T item) {
    setState(() {
      _list.add(item);
    });
    items.forEach((i) {
      print(i);
    });
  }

  int get length => _list.length;

  Future<void> load(
    String path,
  ) async {
    await Future.delayed(Duration.zero);
  }
}

int twice(int x) => x * 2;
"""


def test_dart_methods_getters_and_constructors_are_chunks() -> None:
    # a Dart class was one chunk: the regex had types only; closures passed to calls
    # (``setState(() {``, ``items.forEach((i) {``) are not definitions
    got = [(c.kind, c.name, c.start_row, c.end_row) for c in _regex("lib/o.dart", DART)]
    assert got == [
        ("ClassDeclaration", "ObserverList", 0, 2),
        ("ConstructorDeclaration", "ObserverList.ObserverList", 4, 6),
        ("ConstructorDeclaration", "ObserverList.fromJson", 8, 10),
        ("MethodDeclaration", "ObserverList.add", 12, 21),
        ("MethodDeclaration", "ObserverList.length", 23, 23),
        ("MethodDeclaration", "ObserverList.load", 25, 30),
        ("FunctionDeclaration", "twice", 32, 32),
    ]
    add = next(c for c in _regex("lib/o.dart", DART) if c.name == "ObserverList.add")
    assert (add.doc, add.decorators, add.signature) == (
        "Adds an item.",
        ("@override",),
        "void add(T item)",
    )
