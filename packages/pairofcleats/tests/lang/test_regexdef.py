"""The regex definition chunker (languages without a grammar wheel)."""

from __future__ import annotations

from pairofcleats.lang import ChunkingLimits, chunk_file
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
