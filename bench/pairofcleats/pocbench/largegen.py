"""The §13 **large** corpus: a generated multi-language tree (20k files by default).

Deterministic for a seed (``random.Random``), so two runs measure the same bytes. Each
file is one module of the language's usual shape: a doc comment, imports, one type with
two to five methods and one to four free functions, each with a doc comment and a body
that assigns, branches, loops and calls other generated names. Identifiers are drawn from
a fixed word list with Zipf-like weights, so the vocabulary has the long tail of real
code rather than a uniform spread; about 3 % of the files are Markdown notes.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

_WORD_TEXT = (
    "user order cache buffer token session request response header config stream socket "
    "parser lexer index query record table column schema field value key map list queue "
    "stack tree node graph edge path file dir blob chunk page frame packet message event "
    "handler listener worker job task batch pool thread lock mutex timer clock deadline "
    "retry backoff limit quota budget metric counter gauge histogram span trace log level "
    "error fault status state phase stage step plan route rule policy filter sort merge "
    "split join scan seek read write flush sync open close start stop reset load save "
    "store fetch push pull send recv encode decode pack unpack hash digest sign verify "
    "encrypt decrypt compress inflate render layout style theme color font image icon "
    "widget panel window dialog button label input form view model controller service "
    "client server proxy gateway router broker channel topic offset cursor snapshot "
    "version release build deploy image volume mount device driver kernel module plugin "
    "extension hook callback promise future result option either vector matrix tensor "
    "shape scale rotate offset origin bound range window slot bucket shard replica "
    "leader follower vote term epoch ledger account balance invoice payment price tax "
    "discount cart product catalog stock warehouse shipment address region zone tenant "
    "role permission grant token secret credential identity profile avatar comment post "
    "thread reply like follow feed notice alert digest summary report chart series point"
)
WORDS = tuple(dict.fromkeys(_WORD_TEXT.split()))

#: Share of files per language (weights; ``md`` is prose).
LANGS: dict[str, int] = {
    "py": 20, "js": 9, "ts": 11, "go": 10, "rs": 8, "java": 10, "c": 5, "cpp": 5,
    "cs": 6, "rb": 5, "php": 4, "sh": 3, "md": 3,
}  # fmt: skip


@dataclass(frozen=True, slots=True)
class Names:
    """The identifiers of one generated module, cased per language by the renderers."""

    module: list[str]
    type_: list[str]
    methods: list[list[str]]
    functions: list[list[str]]
    calls: list[list[str]]
    doc: list[str]


def _snake(w: list[str]) -> str:
    return "_".join(w)


def _camel(w: list[str]) -> str:
    return w[0] + "".join(x.title() for x in w[1:])


def _pascal(w: list[str]) -> str:
    return "".join(x.title() for x in w)


def _sentence(rng: random.Random, words: list[str]) -> str:
    picked = rng.sample(words, k=min(len(words), rng.randint(4, 9)))
    return " ".join(["Handles the", *picked]) + "."


class _Gen:
    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self._weights = [1.0 / (i + 1) ** 0.9 for i in range(len(WORDS))]

    def words(self, lo: int = 2, hi: int = 3) -> list[str]:
        return self.rng.choices(WORDS, weights=self._weights, k=self.rng.randint(lo, hi))

    def names(self) -> Names:
        r = self.rng
        return Names(
            module=self.words(1, 2),
            type_=[*self.words(1, 2), r.choice(("manager", "store", "service", "client"))],
            methods=[self.words() for _ in range(r.randint(2, 5))],
            functions=[self.words() for _ in range(r.randint(1, 4))],
            calls=[self.words() for _ in range(6)],
            doc=self.words(8, 14),
        )

    def doc(self, n: Names) -> str:
        return _sentence(self.rng, n.doc)


def _py(g: _Gen, n: Names) -> str:
    t = _pascal(n.type_)
    out = [f'"""{g.doc(n)}"""', "", "import os", "from typing import Any", "", ""]
    out += [f"class {t}:", f'    """{g.doc(n)}"""', ""]
    out += ["    def __init__(self, limit: int) -> None:"]
    out += ["        self.limit = limit", "        self.items: list[Any] = []", ""]
    for m in n.methods:
        c = _snake(g.rng.choice(n.calls))
        out += [f"    def {_snake(m)}(self, value: Any, count: int = 1) -> Any:"]
        out += [f'        """{g.doc(n)}"""', f"        total = {c}(value)"]
        out += ["        for i in range(count):", "            if i > self.limit:"]
        out += ["                break", "            total += i", "        return total", ""]
    for f in n.functions:
        c = _snake(g.rng.choice(n.calls))
        out += ["", f"def {_snake(f)}(value: Any, *, strict: bool = False) -> Any:"]
        out += [f'    """{g.doc(n)}"""', "    # normalise before the lookup"]
        out += ["    if strict and value is None:", "        raise ValueError(os.sep)"]
        out += [f"    return {c}(value)", ""]
    return "\n".join(out) + "\n"


def _jsts(g: _Gen, n: Names, ts: bool) -> str:
    t, a = _pascal(n.type_), (": number" if ts else "")
    out = [f"/** {g.doc(n)} */", 'import { readFile } from "fs";', ""]
    if ts:
        out += [f"export interface {t}Options {{", "  limit: number;", "  name?: string;", "}", ""]
    out += [f"/** {g.doc(n)} */", f"export class {t} {{"]
    out += [f"  constructor(limit{a}) {{", "    this.limit = limit;", "  }", ""]
    for m in n.methods:
        c = _camel(g.rng.choice(n.calls))
        out += [f"  /** {g.doc(n)} */", f"  {_camel(m)}(value{a}, count{a}) {{"]
        out += [f"    let total = {c}(value);", "    for (let i = 0; i < count; i++) {"]
        out += ["      if (i > this.limit) break;", "      total += i;", "    }"]
        out += ["    return total;", "  }", ""]
    out += ["}", ""]
    for f in n.functions:
        c = _camel(g.rng.choice(n.calls))
        out += [f"/** {g.doc(n)} */", f"export function {_camel(f)}(value{a}) {{"]
        out += ["  // normalise before the lookup", "  if (value == null) {"]
        out += ["    throw new Error(readFile.name);", "  }", f"  return {c}(value);", "}", ""]
    return "\n".join(out)


def _go(g: _Gen, n: Names) -> str:
    t = _pascal(n.type_)
    out = [f"// Package {_snake(n.module)} {g.doc(n)}", f"package {_snake(n.module)}", ""]
    out += ['import "fmt"', "", f"// {t} {g.doc(n)}", f"type {t} struct {{", "\tLimit int"]
    out += ["\tName  string", "}", ""]
    for m in n.methods:
        c = _pascal(g.rng.choice(n.calls))
        out += [f"// {_pascal(m)} {g.doc(n)}"]
        out += [f"func (s *{t}) {_pascal(m)}(value int, count int) (int, error) {{"]
        out += [f"\ttotal := {c}(value)", "\tfor i := 0; i < count; i++ {"]
        out += ["\t\tif i > s.Limit {", "\t\t\tbreak", "\t\t}", "\t\ttotal += i", "\t}"]
        out += ["\treturn total, nil", "}", ""]
    for f in n.functions:
        c = _pascal(g.rng.choice(n.calls))
        out += [f"// {_pascal(f)} {g.doc(n)}", f"func {_pascal(f)}(value int) int {{"]
        out += ["\tif value < 0 {", '\t\tpanic(fmt.Sprint("negative"))', "\t}"]
        out += [f"\treturn {c}(value)", "}", ""]
    return "\n".join(out)


def _rs(g: _Gen, n: Names) -> str:
    t = _pascal(n.type_)
    out = [f"//! {g.doc(n)}", "use std::collections::HashMap;", "", f"/// {g.doc(n)}"]
    out += ["#[derive(Debug, Clone)]", f"pub struct {t} {{", "    limit: usize,"]
    out += ["    names: HashMap<String, usize>,", "}", "", f"impl {t} {{"]
    for m in n.methods:
        c = _snake(g.rng.choice(n.calls))
        out += [f"    /// {g.doc(n)}"]
        out += [f"    pub fn {_snake(m)}(&self, value: usize, count: usize) -> usize {{"]
        out += [f"        let mut total = {c}(value);", "        for i in 0..count {"]
        out += ["            if i > self.limit {", "                break;", "            }"]
        out += ["            total += i + self.names.len();", "        }", "        total", "    }"]
        out += [""]
    out += ["}", ""]
    for f in n.functions:
        c = _snake(g.rng.choice(n.calls))
        out += [f"/// {g.doc(n)}", f"pub fn {_snake(f)}(value: usize) -> usize {{"]
        out += ["    // normalise before the lookup", f"    {c}(value.max(1))", "}", ""]
    return "\n".join(out)


def _java_cs(g: _Gen, n: Names, cs: bool) -> str:
    t = _pascal(n.type_)
    meth = _pascal if cs else _camel
    pkg = _snake(n.module)
    if cs:
        out = ["using System;", "", f"namespace Gen.{_pascal(n.module)}", "{"]
        doc = [f"    /// <summary>{g.doc(n)}</summary>"]
    else:
        out = [f"package gen.{pkg};", "", "import java.util.List;", ""]
        doc = [f"/** {g.doc(n)} */"]
    ind = "    " if cs else ""
    out += [*doc, f"{ind}public class {t}", f"{ind}{{", f"{ind}    private final int limit;"]
    out += ["", f"{ind}    public {t}(int limit) {{", f"{ind}        this.limit = limit;"]
    out += [f"{ind}    }}"]
    for m in n.methods + n.functions:
        c = meth(g.rng.choice(n.calls))
        d = f"/// <summary>{g.doc(n)}</summary>" if cs else f"/** {g.doc(n)} */"
        static = "static " if m in n.functions else ""
        out += ["", f"{ind}    {d}", f"{ind}    public {static}int {meth(m)}(int value, int count)"]
        out += [f"{ind}    {{", f"{ind}        int total = {c}(value);"]
        out += [f"{ind}        for (int i = 0; i < count; i++)", f"{ind}        {{"]
        out += [f"{ind}            if (i > {'10' if static else 'limit'}) break;"]
        out += [f"{ind}            total += i;", f"{ind}        }}", f"{ind}        return total;"]
        out += [f"{ind}    }}"]
    out += [f"{ind}}}"]
    if cs:
        out += ["}"]
    return "\n".join(out) + "\n"


def _c_cpp(g: _Gen, n: Names, cpp: bool) -> str:
    t = _pascal(n.type_)
    out = [f"/* {g.doc(n)} */", "#include <stdio.h>", "#include <stdlib.h>", ""]
    if cpp:
        out += [f"/** {g.doc(n)} */", f"class {t} {{", " public:"]
        out += [f"  explicit {t}(int limit) : limit_(limit) {{}}"]
        for m in n.methods:
            c = _snake(g.rng.choice(n.calls))
            out += [f"  /** {g.doc(n)} */", f"  int {_pascal(m)}(int value, int count) const {{"]
            out += [f"    int total = {c}(value);", "    for (int i = 0; i < count; ++i) {"]
            out += ["      if (i > limit_) break;", "      total += i;", "    }"]
            out += ["    return total;", "  }"]
        out += [" private:", "  int limit_;", "};", ""]
    else:
        out += [f"/* {g.doc(n)} */", f"struct {_snake(n.type_)} {{", "  int limit;"]
        out += ["  const char *name;", "};", ""]
        for m in n.methods:
            c = _snake(g.rng.choice(n.calls))
            out += [f"/* {g.doc(n)} */"]
            out += [f"int {_snake(m)}(struct {_snake(n.type_)} *s, int value, int count) {{"]
            out += [f"  int total = {c}(value);", "  for (int i = 0; i < count; ++i) {"]
            out += ["    if (i > s->limit) break;", "    total += i;", "  }", "  return total;"]
            out += ["}", ""]
    for f in n.functions:
        c = _snake(g.rng.choice(n.calls))
        out += [f"/* {g.doc(n)} */", f"static int {_snake(f)}(int value) {{"]
        out += ['  if (value < 0) { fputs("negative", stderr); abort(); }']
        out += [f"  return {c}(value);", "}", ""]
    return "\n".join(out)


def _rb(g: _Gen, n: Names) -> str:
    out = [f"# {g.doc(n)}", "require 'json'", "", f"module {_pascal(n.module)}"]
    out += [f"  # {g.doc(n)}", f"  class {_pascal(n.type_)}", "    attr_reader :limit", ""]
    out += ["    def initialize(limit)", "      @limit = limit", "    end"]
    for m in n.methods:
        c = _snake(g.rng.choice(n.calls))
        out += ["", f"    # {g.doc(n)}", f"    def {_snake(m)}(value, count = 1)"]
        out += [f"      total = {c}(value)", "      count.times do |i|"]
        out += ["        break if i > @limit", "        total += i", "      end", "      total"]
        out += ["    end"]
    out += ["  end", ""]
    for f in n.functions:
        c = _snake(g.rng.choice(n.calls))
        out += [f"  # {g.doc(n)}", f"  def self.{_snake(f)}(value)"]
        out += ["    raise ArgumentError, 'nil' if value.nil?", f"    {c}(value)", "  end", ""]
    out += ["end"]
    return "\n".join(out) + "\n"


def _php(g: _Gen, n: Names) -> str:
    t = _pascal(n.type_)
    out = ["<?php", "", f"namespace Gen\\{_pascal(n.module)};", "", f"/** {g.doc(n)} */"]
    out += [f"class {t}", "{", "    private int $limit;", ""]
    out += ["    public function __construct(int $limit)", "    {"]
    out += ["        $this->limit = $limit;", "    }"]
    for m in n.methods:
        c = _camel(g.rng.choice(n.calls))
        out += ["", f"    /** {g.doc(n)} */"]
        out += [f"    public function {_camel(m)}(int $value, int $count = 1): int", "    {"]
        out += [f"        $total = {c}($value);", "        for ($i = 0; $i < $count; $i++) {"]
        out += ["            if ($i > $this->limit) {", "                break;", "            }"]
        out += ["            $total += $i;", "        }", "        return $total;", "    }"]
    out += ["}", ""]
    for f in n.functions:
        c = _camel(g.rng.choice(n.calls))
        out += [f"/** {g.doc(n)} */", f"function {_camel(f)}(int $value): int", "{"]
        out += [f"    return {c}(max($value, 1));", "}", ""]
    return "\n".join(out)


def _sh(g: _Gen, n: Names) -> str:
    out = ["#!/usr/bin/env bash", f"# {g.doc(n)}", "set -euo pipefail", ""]
    for f in n.methods + n.functions:
        c = _snake(g.rng.choice(n.calls))
        out += [f"# {g.doc(n)}", f"{_snake(f)}() {{", '  local value="$1"']
        out += ['  if [ -z "$value" ]; then', '    echo "missing value" >&2', "    return 1"]
        out += ["  fi", f'  {c} "$value"', "}", ""]
    out += [f'{_snake(n.functions[0])} "$@"']
    return "\n".join(out) + "\n"


def _md(g: _Gen, n: Names) -> str:
    out = [f"# {_pascal(n.module)} notes", "", g.doc(n), ""]
    for m in n.methods:
        out += [f"## {' '.join(m).title()}", "", g.doc(n), g.doc(n), ""]
        out += ["```", f"{_snake(m)}(value)", "```", ""]
    return "\n".join(out)


_RENDER: dict[str, Callable[[_Gen, Names], str]] = {
    "py": _py,
    "js": lambda g, n: _jsts(g, n, ts=False),
    "ts": lambda g, n: _jsts(g, n, ts=True),
    "go": _go,
    "rs": _rs,
    "java": lambda g, n: _java_cs(g, n, cs=False),
    "cs": lambda g, n: _java_cs(g, n, cs=True),
    "c": lambda g, n: _c_cpp(g, n, cpp=False),
    "cpp": lambda g, n: _c_cpp(g, n, cpp=True),
    "rb": _rb,
    "php": _php,
    "sh": _sh,
    "md": _md,
}


def generate(dest: Path, files: int = 20_000, seed: int = 13) -> dict[str, int]:
    """Write ``files`` generated modules under ``dest``; return the count per extension.

    Paths are ``<ext>/<package>/<module>_<n>.<ext>`` with 50 files per package directory,
    so discovery walks a few hundred directories as in a real tree."""
    g = _Gen(seed)
    exts, weights = list(LANGS), list(LANGS.values())
    counts: dict[str, int] = {}
    packages: dict[str, str] = {}
    for i in range(files):
        ext = g.rng.choices(exts, weights=weights)[0]
        k = counts.get(ext, 0)
        if k % 50 == 0:
            packages[ext] = f"{'_'.join(g.words(1, 2))}_{k // 50:03d}"
        package = packages[ext]
        names = g.names()
        name = f"{_snake(names.module)}_{i:05d}.{ext}"
        path = dest / ext / package / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(_RENDER[ext](g, names), encoding="utf-8")
        counts[ext] = counts.get(ext, 0) + 1
    return counts
