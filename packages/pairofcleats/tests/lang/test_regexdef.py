"""The regex definition chunker (languages without a grammar wheel)."""

from __future__ import annotations

import pytest
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


def _sigs(rel: str, text: str) -> dict[str, tuple[list[str], str | None]]:
    """``name → (param names, returns)`` of the function-like chunks."""
    return {
        c.name: ([p["name"] for p in c.params], c.returns)
        for c in _regex(rel, text)
        if c.kind in ("FunctionDeclaration", "MethodDeclaration", "ConstructorDeclaration")
    }


KOTLIN_CLIENT = """package okhttp3

class OkHttpClient internal constructor(builder: Builder) {
  /** Prepares the [request] to be executed at some point in the future. */
  override fun newCall(request: Request): Call = RealCall(this, request, forWebSocket = false)

  fun newWebSocket(
    request: Request,
    listener: WebSocketListener, // notified of events, in order
  ): WebSocket {
    return RealWebSocket(request, listener)
  }

  inline fun <reified T> tag(type: KClass<T>, default: T? = null): T? = tags[type] as T?

  suspend fun <T> retry(times: Int = 3, vararg codes: Int, block: suspend () -> T): Result<T> {
    TODO()
  }

  fun close() {
    dispatcher.executorService.shutdown()
  }
}

fun String.toHttpUrl(@Suppress("UNUSED") sep: String = ", (x)"): HttpUrl = HttpUrl.get(this)
"""

SWIFT_SESSION = """open class Session {
    public init(configuration: URLSessionConfiguration = .af.default,
                delegate: SessionDelegate = SessionDelegate(),
                rootQueue: DispatchQueue = DispatchQueue(label: "org.alamofire.rootQueue")) {
        self.configuration = configuration
    }

    open func request(_ convertible: URLConvertible,
                      method: HTTPMethod = .get,
                      headers: HTTPHeaders? = nil) -> DataRequest {
        DataRequest()
    }

    func download(from url: URL, to handler: @escaping (URL) -> Void) async throws -> (URL, Int) {
        fatalError()
    }

    static func == (lhs: Session, rhs: Session) -> Bool { lhs === rhs }

    func cancelAll() {}

    func values<T: Decodable>(of type: T.Type) rethrows -> [T] where T: Sendable { [] }
}
"""

SCALA_CACHE = """object Cache {
  def apply[K, V](settings: CachingSettings)(implicit system: ActorSystem): Cache[K, V] = {
    new LfuCache(settings)
  }

  def getOrLoad(key: String, loadValue: String => Future[Int] = defaultLoad): Future[Int] =
    store.getOrElse(key, loadValue(key))

  private def evict(keys: Seq[String], force: Boolean = false): Unit = {
    keys.foreach(store.remove)
  }

  def size = store.size
}
"""

LUA_PLUGIN = """local M = {}

--- Sets up the plugin.
function M.setup(opts, ...)
  config = vim.tbl_deep_extend("force", defaults, opts or {})
end

function M:attach(bufnr, client)
  return self
end

local function notify(msg, level)
  vim.notify(msg, level)
end

M.on_attach = function(client, bufnr) return nil end

return M
"""

PERL_CLIENT = """package HTTP::Tiny::Client;
use strict;

sub new {
    my ($class, %args) = @_;
    return bless {%args}, $class;
}

sub request {
    my $self = shift;
    my $method = shift;
    my ($url, $opts) = @_;
    return $self->_request($method, $url, $opts);
}

sub max($$) { $_[0] > $_[1] ? $_[0] : $_[1] }

sub greet ($name, $greeting = "Hello, you") {
    return "$greeting, $name";
}
1;
"""

R_HELPERS = """#' Summarise each group
#' @export
summarise_groups <- function(.data, ..., .groups = NULL, na.rm = TRUE) {
  dplyr::summarise(.data, ..., .groups = .groups)
}

add_one = function(x) x + 1
"""

SQL_SCHEMA = """CREATE TABLE users (
  id serial PRIMARY KEY,
  email text NOT NULL
);

CREATE OR REPLACE FUNCTION user_count(min_id integer, active boolean DEFAULT true)
RETURNS integer AS $$
  SELECT count(*) FROM users WHERE id >= min_id;
$$ LANGUAGE sql STABLE;

CREATE FUNCTION add(integer, integer) RETURNS integer
    AS 'select $1 + $2;'
    LANGUAGE SQL IMMUTABLE;

CREATE FUNCTION users_by_domain(domain text) RETURNS TABLE (id int, email text) LANGUAGE sql AS $$
  SELECT id, email FROM users WHERE email LIKE '%' || domain;
$$;

CREATE PROCEDURE get_user(IN p_id INT, OUT p_email VARCHAR(255))
BEGIN
  SELECT email INTO p_email FROM users WHERE id = p_id;
END;

CREATE FUNCTION dbo.FullName (@first NVARCHAR(50), @last NVARCHAR(50) = N'')
RETURNS NVARCHAR(101)
AS
BEGIN
  RETURN @first + ' ' + @last;
END;
"""

OBJC_CLIENT = """#import "AFHTTPSessionManager.h"

@implementation AFHTTPSessionManager

+ (instancetype)manager {
    return [[[self class] alloc] initWithBaseURL:nil];
}

- (NSURLSessionDataTask *)GET:(NSString *)URLString
                   parameters:(nullable id)parameters
                      success:(nullable void (^)(NSURLSessionDataTask *task, id obj))success {
    return nil;
}

- (void)invalidate {
}

@end
"""

DART_REPO = """class UserRepository {
  final HttpClient _client;

  Future<User?> find(int id, {bool cache = false, required String source}) async {
    return null;
  }

  Stream<List<User>> watch([int limit = 10]) async* {}

  int get count => _count;

  set count(int value) => _count = value;

  static Map<String, dynamic> toJson(User u) => {};
}

void main(List<String> args) {
  runApp(const MyApp());
}
"""


@pytest.mark.parametrize(
    ("rel", "text", "expected"),
    [
        (
            "okhttp/OkHttpClient.kt",
            KOTLIN_CLIENT,
            {
                "OkHttpClient.newCall": (["request"], "Call"),
                "OkHttpClient.newWebSocket": (["request", "listener"], "WebSocket"),
                "OkHttpClient.tag": (["type", "default"], "T?"),
                "OkHttpClient.retry": (["times", "codes", "block"], "Result<T>"),
                "OkHttpClient.close": ([], None),
                "String.toHttpUrl": (["sep"], "HttpUrl"),
            },
        ),
        (
            "Source/Session.swift",
            SWIFT_SESSION,
            {
                "Session.init": (["configuration", "delegate", "rootQueue"], None),
                "Session.request": (["convertible", "method", "headers"], "DataRequest"),
                "Session.download": (["url", "handler"], "(URL, Int)"),  # names, not labels
                "Session.==": (["lhs", "rhs"], "Bool"),
                "Session.cancelAll": ([], None),
                "Session.values": (["type"], "[T]"),
            },
        ),
        (
            "cache/Cache.scala",
            SCALA_CACHE,
            {
                "Cache.apply": (["settings", "system"], "Cache[K, V]"),  # every list
                "Cache.getOrLoad": (["key", "loadValue"], "Future[Int]"),
                "Cache.evict": (["keys", "force"], "Unit"),
                "Cache.size": ([], None),
            },
        ),
        (
            "lua/plugin/init.lua",
            LUA_PLUGIN,
            {
                "M.setup": (["opts", "..."], None),
                "M.attach": (["bufnr", "client"], None),  # self is implicit
                "notify": (["msg", "level"], None),
                "M.on_attach": (["client", "bufnr"], None),
            },
        ),
        (
            "lib/HTTP/Tiny/Client.pm",
            PERL_CLIENT,
            {
                "new": (["class", "args"], None),
                "request": (["self", "method", "url", "opts"], None),
                "max": ([], None),  # a prototype, not a signature
                "greet": (["name", "greeting"], None),
            },
        ),
        (
            "R/summarise.R",
            R_HELPERS,
            {
                "summarise_groups": ([".data", "...", ".groups", "na.rm"], None),
                "add_one": (["x"], None),
            },
        ),
        (
            "db/schema.sql",
            SQL_SCHEMA,
            {
                "user_count": (["min_id", "active"], "integer"),
                "add": ([], "integer"),  # PostgreSQL's unnamed parameters
                "users_by_domain": (["domain"], "TABLE (id int, email text)"),
                "get_user": (["p_id", "p_email"], None),
                "dbo.FullName": (["first", "last"], "NVARCHAR(101)"),
            },
        ),
        (
            "AFNetworking/AFHTTPSessionManager.m",
            OBJC_CLIENT,
            {
                "AFHTTPSessionManager.manager": ([], "instancetype"),
                "AFHTTPSessionManager.GET:parameters:success:": (
                    ["URLString", "parameters", "success"],
                    "NSURLSessionDataTask *",
                ),
                "AFHTTPSessionManager.invalidate": ([], "void"),
            },
        ),
        (
            "lib/user_repository.dart",
            DART_REPO,
            {
                "UserRepository.find": (["id", "cache", "source"], "Future<User?>"),
                "UserRepository.watch": (["limit"], "Stream<List<User>>"),
                "UserRepository.count": (["value"], None),  # the setter; the getter: int
                "UserRepository.toJson": (["u"], "Map<String, dynamic>"),
                "main": (["args"], "void"),
            },
        ),
    ],
)
def test_regex_chunks_have_params_and_returns(
    rel: str, text: str, expected: dict[str, tuple[list[str], str | None]]
) -> None:
    # regex-chunked functions had neither: --param and --returns found none of them
    assert _sigs(rel, text) == expected


def test_regex_signatures_hold_parameters_over_several_rows() -> None:
    # the signature was the definition's first row: "fun newWebSocket(" alone
    kt = {c.name: c for c in _regex("okhttp/OkHttpClient.kt", KOTLIN_CLIENT)}
    ws = kt["OkHttpClient.newWebSocket"]
    assert ws.signature == (
        "fun newWebSocket( request: Request, listener: WebSocketListener, ): WebSocket"
    )  # without the comment inside the list
    assert [(p["name"], p.get("type")) for p in ws.params] == [
        ("request", "Request"),
        ("listener", "WebSocketListener"),
    ]
    assert kt["String.toHttpUrl"].params == (
        {"name": "sep", "type": "String", "default": '", (x)"'},
    )
    objc = {c.name: c for c in _regex("AFNetworking/AFHTTPSessionManager.m", OBJC_CLIENT)}
    get = objc["AFHTTPSessionManager.GET:parameters:success:"]
    assert get.signature.startswith(
        "- (NSURLSessionDataTask *)GET:(NSString *)URLString parameters:(nullable id)parameters"
    )
    assert get.params[1] == {"name": "parameters", "type": "nullable id"}
    sql = {c.name: c for c in _regex("db/schema.sql", SQL_SCHEMA)}
    assert sql["user_count"].params[1] == {"name": "active", "type": "boolean", "default": "true"}


def test_regex_chunked_docs_skip_banners_and_tool_directives() -> None:
    src = (
        "// MARK: - Networking\n"
        "// ------------------------------\n"
        "/// Fetches the user.\n"
        "// swiftlint:disable:next function_body_length\n"
        "func fetch(id: Int) -> User {\n"
        "    return api.get(id)\n"
        "}\n"
    )
    spec = detect("Sources/App/Client.swift")
    assert spec is not None
    fc = chunk_file("Sources/App/Client.swift", src, spec, ChunkingLimits())
    fetch = next(c for c in fc.chunks if c.name == "fetch")
    assert fetch.start_row == 0
    assert fetch.doc == "Fetches the user."


DART_MODEL = """import 'package:json_annotation/json_annotation.dart';

part 'user.g.dart';

/// A signed-in user.
@JsonSerializable()
class User {
  /// Creates a user.
  const User({required this.id, this.name = ''});

  User.guest() : this(id: 0);

  User.fromRow(List<Object?> row)
      : id = row[0] as int,
        name = row[1] as String;

  factory User.fromJson(Map<String, dynamic> json) => _$UserFromJson(json);

  factory User.empty() = _EmptyUser;

  static final User shared =
      User._internal();

  User._internal() : id = -1, name = 'shared';

  final int id;
  final String name;

  void Function(int) onTap(BuildContext context) {
    return (i) {
      User.guest();
      print(i);
    };
  }

  Future<void> Function() loader() => () async {};
}

abstract class UserStore {
  Future<User?> find(int id);
  Stream<List<User>> watchAll();
}

void Function(String) logger(String prefix) => (m) => print('$prefix $m');
"""


def test_dart_bodiless_constructors_and_function_typed_returns() -> None:
    # constructors ending in ``;`` (``const User({…});``, ``User.guest() : this(…);``, an
    # initialiser list on the next lines) were no chunks, their lines the previous
    # definition's; ``void Function(int) onTap(…)`` was named ``Function``, with a
    # parameter ``int``. A ``User._internal();`` deeper than the members (a wrapped
    # initialiser, a statement in a body) stays a line of its definition.
    chunks = _regex("lib/user.dart", DART_MODEL)
    got = [(c.kind, c.name, c.start_row, c.end_row) for c in chunks if c.kind != "Module"]
    assert got == [
        ("ClassDeclaration", "User", 4, 6),
        ("ConstructorDeclaration", "User.User", 7, 8),
        ("ConstructorDeclaration", "User.guest", 10, 10),
        ("ConstructorDeclaration", "User.fromRow", 12, 14),
        ("ConstructorDeclaration", "User.fromJson", 16, 16),
        ("ConstructorDeclaration", "User.empty", 18, 21),
        ("ConstructorDeclaration", "User._internal", 23, 26),
        ("MethodDeclaration", "User.onTap", 28, 33),
        ("MethodDeclaration", "User.loader", 35, 36),
        ("ClassDeclaration", "UserStore", 38, 38),
        ("MethodDeclaration", "UserStore.find", 39, 39),
        ("MethodDeclaration", "UserStore.watchAll", 40, 41),
        ("FunctionDeclaration", "logger", 43, 43),
    ]
    by = {c.name: c for c in chunks}
    ctor = by["User.User"]
    assert (ctor.doc, ctor.signature) == (
        "Creates a user.",
        "const User({required this.id, this.name = ''})",
    )
    assert [p["name"] for p in ctor.params] == ["id", "name"]
    assert by["User.guest"].signature == "User.guest() : this(id: 0)"
    assert by["User.empty"].signature == "factory User.empty() = _EmptyUser"
    sigs = _sigs("lib/user.dart", DART_MODEL)
    assert sigs["User.onTap"] == (["context"], "void Function(int)")
    assert sigs["User.loader"] == ([], "Future<void> Function()")
    assert sigs["logger"] == (["prefix"], "void Function(String)")
    assert sigs["UserStore.find"] == (["id"], "Future<User?>")
    assert sigs["User.fromRow"] == (["row"], None)


KOTLIN_EXTENSIONS = """package kotlinx.coroutines.flow

/** Swaps two elements in place. */
fun <T> MutableList<T>.swap(i: Int, j: Int) {
    val tmp = this[i]
    this[i] = this[j]
    this[j] = tmp
}

fun <K, V> Map<K, V>.getOrThrow(key: K): V = get(key) ?: throw NoSuchElementException("$key")

public suspend fun <T> Flow<T>.firstOrNull(): T? {
    var result: T? = null
    collect { result = it; return@collect }
    return result
}

inline fun <reified R : Any, K : Comparable<K>> Iterable<*>.sortedInstances(
    crossinline key: (R) -> K,
): List<R> = filterIsInstance<R>().sortedBy(key)

fun Map.Entry<String, Int>.render(): String = "$key=$value"

fun String?.orBlank(): String = this ?: ""

fun String.shout(): String = uppercase()
"""


def test_kotlin_extensions_on_generic_receivers_are_named_like_plain_ones() -> None:
    # ``fun <T> MutableList<T>.swap(…)`` was named ``MutableList`` with no params, the
    # name cut at ``<``; ``fun String.shout()`` was already ``String.shout``
    sigs = _sigs("flow/Extensions.kt", KOTLIN_EXTENSIONS)
    assert sigs == {
        "MutableList.swap": (["i", "j"], None),
        "Map.getOrThrow": (["key"], "V"),
        "Flow.firstOrNull": ([], "T?"),
        "Iterable.sortedInstances": (["key"], "List<R>"),
        "Map.Entry.render": ([], "String"),
        "String.orBlank": ([], "String"),
        "String.shout": ([], "String"),
    }
    swap = next(
        c for c in _regex("flow/Extensions.kt", KOTLIN_EXTENSIONS) if c.name.endswith("swap")
    )
    assert (swap.kind, swap.doc, swap.start_row, swap.end_row) == (
        "FunctionDeclaration",
        "Swaps two elements in place.",
        2,
        7,
    )


KOTLIN_PROPERTIES = """package app.util

/** The last valid index. */
val <T> List<T>.lastIndex: Int get() = size - 1

val String.isBlankish: Boolean
    get() = trim().isEmpty()

internal var StringBuilder.lastChar: Char
    get() = get(length - 1)
    set(value) {
        setCharAt(length - 1, value)
    }

const val MAX_RETRIES = 3
val cache = mutableMapOf<String, Int>()

class Repo(private val db: Db) {
    val size: Int get() = db.count()

    fun find(id: Long): User? {
        val user = db.get(id)
        return user
    }
}
"""


def test_kotlin_extension_properties_are_named_like_extension_functions() -> None:
    # ``val <T> List<T>.lastIndex`` was a line of the chunk above it; plain properties
    # and locals (``const val MAX_RETRIES``, ``val user = …``) stay lines of theirs
    chunks = _regex("util/Lists.kt", KOTLIN_PROPERTIES)
    got = [(c.kind, c.name, c.start_row, c.end_row) for c in chunks if c.kind != "Module"]
    assert got == [
        ("PropertyDeclaration", "List.lastIndex", 2, 3),
        ("PropertyDeclaration", "String.isBlankish", 5, 6),
        ("PropertyDeclaration", "StringBuilder.lastChar", 8, 15),
        ("ClassDeclaration", "Repo", 17, 18),
        ("MethodDeclaration", "Repo.find", 20, 24),
    ]
    by = {c.name: c for c in chunks}
    assert by["List.lastIndex"].doc == "The last valid index."
    assert by["List.lastIndex"].signature == "val <T> List<T>.lastIndex: Int get() = size - 1"
    assert by["StringBuilder.lastChar"].signature == "internal var StringBuilder.lastChar: Char"
    assert by["String.isBlankish"].params == ()


DART_SETTINGS = """import 'dart:io';

/// A source of settings.
abstract class SettingsStore {
  /// How many entries are stored.
  int get length;
  bool get isEmpty => length == 0;
  set theme(String value);
  (String, int)? entry(String key);
  Future<(int, String)> loadPair(String path);
}

class FileStore implements SettingsStore {
  (int, String) parseLine(String line) {
    final parts = line.split('=');
    try {
      return (int.parse(parts[0]), parts[1]);
    }
    on FormatException catch (e) {
      stderr.writeln(e.message);
      return (0, line);
    }
    on IOException {
      rethrow;
    }
  }

  ({int lines, int bytes}) stats() {
    return (lines: 0, bytes: 0);
  }

  void watch() {
    events.listen(
      (event) async {
        await reload();
      },
    );
  }
}

(int, int) minMax(List<int> xs) => (xs.first, xs.last);
"""


def test_dart_abstract_accessors_record_returns_and_on_clauses() -> None:
    # ``int get length;`` was a line of the class, ``set theme(String value);`` ran on over
    # the record-returning members (``(String, int)? entry(…)`` was no definition), and a
    # line starting ``on FormatException catch (e) {`` was a method ``FileStore.catch``
    # (``on IOException {`` one named ``FileStore.IOException``)
    chunks = _regex("lib/settings.dart", DART_SETTINGS)
    got = [(c.kind, c.name, c.start_row, c.end_row) for c in chunks if c.kind != "Module"]
    assert got == [
        ("ClassDeclaration", "SettingsStore", 2, 3),
        ("MethodDeclaration", "SettingsStore.length", 4, 5),
        ("MethodDeclaration", "SettingsStore.isEmpty", 6, 6),
        ("MethodDeclaration", "SettingsStore.theme", 7, 7),
        ("MethodDeclaration", "SettingsStore.entry", 8, 8),
        ("MethodDeclaration", "SettingsStore.loadPair", 9, 10),
        ("ClassDeclaration", "FileStore", 12, 12),
        ("MethodDeclaration", "FileStore.parseLine", 13, 25),
        ("MethodDeclaration", "FileStore.stats", 27, 29),
        ("MethodDeclaration", "FileStore.watch", 31, 38),
        ("FunctionDeclaration", "minMax", 40, 40),
    ]
    by = {c.name: c for c in chunks}
    length = by["SettingsStore.length"]
    assert (length.doc, length.signature, length.returns) == (
        "How many entries are stored.",
        "int get length",
        "int",
    )
    assert by["SettingsStore.theme"].signature == "set theme(String value)"
    sigs = _sigs("lib/settings.dart", DART_SETTINGS)
    assert sigs["SettingsStore.theme"] == (["value"], None)
    assert sigs["SettingsStore.entry"] == (["key"], "(String, int)?")
    assert sigs["SettingsStore.loadPair"] == (["path"], "Future<(int, String)>")
    assert sigs["FileStore.parseLine"] == (["line"], "(int, String)")
    assert sigs["FileStore.stats"] == ([], "({int lines, int bytes})")
    assert sigs["minMax"] == (["xs"], "(int, int)")
