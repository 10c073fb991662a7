"""Per-file processing (stage 1 work unit): read once, chunk, tokenize, describe.

``process_file`` runs in worker processes and returns a *bundle*: a JSON-ready
dict holding everything the build needs from one file except ids (chunk records
without ``id``/``fileId``, field streams, unfielded tokens, embedding inputs,
relations). The same dict is what incremental builds store per file, so a reused
bundle and a freshly processed one assemble identically.
"""

from __future__ import annotations

import gc
import hashlib
import itertools
import re
from collections import Counter
from pathlib import Path, PurePosixPath
from typing import Any

from groundwork.hashing import xxh64_hex as _xxh64_hex

from pairofcleats.config import IndexingConfig
from pairofcleats.discover import Candidate, Skipped, SourceFile, read_source
from pairofcleats.lang import ChunkDraft, ChunkingLimits, chunk_file
from pairofcleats.lang.dispatch import split_lines
from pairofcleats.lang.registry import detect, language_by_id
from pairofcleats.tokenize import (
    code_body,
    code_tokens,
    code_tokens_ranges,
    prose_tokens,
    raw_identifiers,
    raw_words,
    split_id,
    stems_for,
    stopwords,
    word_text,
)

BUNDLE_VERSION = 1
CHUNK_ID_ALGO_VERSION = 2
TEXT_RECIPE_VERSION = 1
CODE_FIELDS = ("name", "signature", "doc", "comment", "body", "keyword", "operator")
PROSE_FIELDS = ("name", "body")
UID_CONTEXT = 128
UID_CONTEXT_WIDE = 1024
MAX_HEADLINE = 120
MAX_USAGES = 200
_HEADLINE_STOP = frozenset(
    {
        "const",
        "let",
        "var",
        "function",
        "return",
        "class",
        "def",
        "self",
        "this",
        "import",
        "from",
        "export",
        "public",
        "private",
        "static",
        "void",
        "int",
        "string",
        "true",
        "false",
        "null",
        "none",
        "new",
        "if",
        "else",
        "for",
        "while",
        "end",
        "fn",
        "pub",
        "func",
    }
)
_C_LIKE_EXTS = frozenset(
    {
        ".c",
        ".h",
        ".cc",
        ".cpp",
        ".cxx",
        ".hh",
        ".hpp",
        ".hxx",
        ".cs",
        ".java",
        ".go",
        ".ts",
        ".tsx",
        ".mts",
        ".cts",
        ".php",
        ".kt",
        ".scala",
        ".dart",
        ".m",
        ".mm",
    }
)


def xxh64_hex(data: bytes) -> str:
    """16-hex xxh64 (seed 0)."""
    return _xxh64_hex(data)


def _norm_nl(text: str) -> str:
    if "\r" not in text:
        return text
    return text.replace("\r\n", "\n").replace("\r", "\n")


def _uid_hash(label: str, text: str, crlf: bool = True) -> str:
    """``crlf`` False: the file has no ``\\r``, nor has any slice of it (no scan for one)."""
    if crlf:
        text = _norm_nl(text)
    return _xxh64_hex((label + "\0" + text).encode("utf-8", "surrogatepass"))


_HIGH = re.compile("[\ud800-\U0010ffff]")  # a surrogate or an astral code point
_ASTRAL = re.compile("[\U00010000-\U0010ffff]")
_ONE_MORE = (1).__add__  # a row's length plus its newline, as a C-level callable


def _utf16_len(s: str) -> int:
    """UTF-16 units of ``s``: one per code point, two per astral one (a lone surrogate: one)."""
    if s.isascii():
        return len(s)
    return len(s.encode("utf-16-le", "surrogatepass")) >> 1


class _Offsets:
    """Row → UTF-16 offset of the row start, and code-point offsets for slicing."""

    def __init__(self, lines: list[str], text: str | None = None) -> None:
        """``text``: ``"\\n".join(lines)`` when the caller has it (one C scan for the checks)."""
        self.lines = lines
        # accumulate/map over C callables: no Python frame per row
        self.cp: list[int] = list(itertools.accumulate(map(_ONE_MORE, map(len, lines)), initial=0))
        self.cp.pop()
        if text is None:
            text = "\n".join(lines)
        # a C regex scan for the first code point >= U+D800, not max() (a str per character)
        high = None if text.isascii() else _HIGH.search(text)
        #: no code point above U+FFFF: one UTF-16 unit per code point
        self.bmp = high is None or _ASTRAL.search(text, high.start()) is None
        #: nor a (lone) surrogate: UTF-16 windows decode back to the very code points
        self.narrow = high is None
        self.text = text
        self._wtext: str | None = None
        if self.bmp:
            self.u16: list[int] = self.cp  # one unit per code point: the same offsets
        else:
            self.u16 = list(itertools.accumulate(map(_ONE_MORE, map(_utf16_len, lines)), initial=0))
            self.u16.pop()

    def word_text(self) -> str | None:
        """``word_text`` of the file when it is ASCII (made once, for all modes)."""
        if self._wtext is None and self.text.isascii():
            self._wtext = word_text(self.text)
        return self._wtext

    def span(self, s: int, e: int) -> tuple[int, int, int, int]:
        """(start16, end16, startCp, endCp) of rows s..e, end excluding the newline/CR."""
        last = self.lines[e]
        trim = 1 if last.endswith("\r") else 0
        end_cp = self.cp[e] + len(last) - trim
        end16 = self.u16[e] + (len(last) if self.bmp else _utf16_len(last)) - trim
        return self.u16[s], end16, self.cp[s], end_cp


def _lang_keywords(lang: str) -> frozenset[str]:
    """Keywords of a fence's language (empty for regex-chunked languages)."""
    from pairofcleats.lang.tables import TABLES, keywords

    return keywords(lang) if lang in TABLES else frozenset()


def weight_for(rel: str, kind: str, ext: str) -> float:
    """§4 weight: first match wins."""
    if "test" in rel.lower():
        return 0.5
    if kind == "FunctionDeclaration":
        return 2.0
    if kind == "ClassDeclaration":
        return 1.5
    if ext in (".js", ".py", ".swift", ".rs"):
        return 1.2
    if ext in _C_LIKE_EXTS:
        return 1.1
    if ext == ".md":
        return 0.8
    return 1.0


def headline_for(doc: str, name: str, tokens: list[str]) -> str:
    """First 7 words of doc; else name; else the 7 most frequent meaningful tokens."""
    words = doc.split(None, 7)  # the first 7 words (an 8th item is the rest, unsplit)
    if words:
        text = " ".join(words[:7])
    elif name and name not in ("blob", "root"):
        text = name
    else:
        sw = stopwords()
        counts: Counter[str] = Counter()
        first: dict[str, int] = {}
        for i, t in enumerate(tokens):
            if len(t) <= 1 or t.isdigit() or t in sw or t in _HEADLINE_STOP or len(t) > 30:
                continue
            counts[t] += 1
            first.setdefault(t, i)
        top = sorted(counts, key=lambda t: (-counts[t], first[t]))[:7]
        text = " ".join(top)
        if not text:
            return "(no headline)"
    if len(text) > MAX_HEADLINE:
        return text[:MAX_HEADLINE] + "…"
    return text


def _blank_rows(lines: list[str], s: int, e: int, rows: tuple[tuple[int, int], ...]) -> str:
    if not rows:
        return "\n".join(lines[s : e + 1])
    skip: set[int] = set()
    for a, b in rows:
        skip.update(range(max(a, s), min(b, e) + 1))
    return "\n".join(lines[r] for r in range(s, e + 1) if r not in skip)


def _row_ranges(
    offsets: _Offsets, s: int, e: int, rows: tuple[tuple[int, int], ...], base: int = 0
) -> list[tuple[int, int, bool]]:
    """Code-point ranges of rows ``s..e`` in order, ``kept`` False for the blanked ``rows``
    (offsets into the text from code point ``base`` on)."""
    if s > e:
        return []
    # clipped to s..e (conditionals, not max/min calls), the ones that overlap it
    blank = sorted(
        [(a if a > s else s, b if b < e else e) for a, b in rows if a <= e and b >= s and a <= b]
    )
    cp = offsets.cp
    lines = offsets.lines
    out: list[tuple[int, int, bool]] = []
    cur = s
    for a, b in blank:
        if b < cur:
            continue
        if a > cur:
            out.append((cp[cur], cp[a - 1] + len(lines[a - 1]), True))
        else:
            a = cur
        out.append((cp[a], cp[b] + len(lines[b]), False))
        cur = b + 1
    if cur <= e:
        out.append((cp[cur], cp[e] + len(lines[e]), True))
    if base:
        return [(a - base, b - base, k) for a, b, k in out]
    return out


class _DocWords(dict[str, list[str]]):
    """One file's ``split_id`` of doc texts and names: a docstring is a code chunk's ``doc``
    and its own extracted-prose chunk, every window of a split chunk repeats its doc, and a
    definition's name is its chunk's and its comments' chunks' name. Callers copy what
    they keep."""

    __slots__ = ()

    def __missing__(self, text: str) -> list[str]:
        words = self[text] = split_id(text)
        return words


def _code_fields(
    d: ChunkDraft,
    keywords: frozenset[str],
    streams: tuple[list[str], list[str], list[str]],
    docs: _DocWords,
) -> dict[str, list[str]]:
    body, kw, ops = streams
    sig_body = code_body(d.signature, keywords)
    return {
        "name": docs[d.name].copy(),
        "signature": sig_body,
        "doc": docs[d.doc].copy() if d.doc else [],
        "comment": split_id(d.comment) if d.comment else [],
        "body": body,
        "keyword": kw,
        "operator": ops,
    }


def _prose_fields(name: str, text: str, docs: _DocWords | None = None) -> dict[str, list[str]]:
    if docs is None:
        return {"name": prose_tokens(name), "body": prose_tokens(text)}
    # prose_tokens of split texts the file has split before (a name is every one of its
    # comments' chunk name)
    is_stop = stopwords().__contains__
    body = list(itertools.filterfalse(is_stop, docs[text])) if text else []
    return {"name": list(itertools.filterfalse(is_stop, docs[name])), "body": body}


def _unfielded(fields: dict[str, list[str]], prose: bool) -> list[str]:
    out = list(itertools.chain.from_iterable(fields.values()))
    if prose:
        out.extend(stems_for(out))
    return out


def _cut(x: str | bytes, width: int, tail: bool) -> str:
    """The last (``tail``) or first ``width`` units of a context window as text.

    ``bytes`` windows are UTF-16-LE (non-ASCII files); a surrogate pair split at the
    window edge becomes U+FFFD, as a JS TextEncoder would write it.
    """
    if isinstance(x, str):
        return x[-width:] if tail else x[:width]
    part = x[-width * 2 :] if tail else x[: width * 2]
    return part.decode("utf-16-le", "replace")


def _assign_uids(
    records: list[dict[str, Any]],
    texts: list[tuple[str, str | bytes, str | bytes]],
    base: str,
    crlf: bool = True,
) -> None:
    """chunkUid with collision handling: widen context to 1,024 chars, then ``:ord<k>``.

    ``crlf`` False: the file has no ``\\r`` (its texts need no newline normalising)."""

    h = _xxh64_hex

    def uid(i: int, width: int) -> str:
        # _uid_hash inlined: three per chunk
        span, pre_raw, post_raw = texts[i]
        if isinstance(pre_raw, str) and isinstance(post_raw, str):
            pre, post = pre_raw[-width:], post_raw[:width]
        else:
            pre, post = _cut(pre_raw, width, tail=True), _cut(post_raw, width, tail=False)
        if crlf:
            span, pre, post = _norm_nl(span), _norm_nl(pre), _norm_nl(post)
        rec = records[i]
        seg = rec["metaV2"]["segment"]
        u = f"{base}:{rec['_virtual']}:"
        if seg is not None:
            u += seg["languageId"] + ":"
        u += h(("span\0" + span).encode("utf-8", "surrogatepass"))
        if pre:
            u += ":" + h(("pre\0" + pre).encode("utf-8", "surrogatepass"))
        if post:
            u += ":" + h(("post\0" + post).encode("utf-8", "surrogatepass"))
        return u

    uids = [uid(i, UID_CONTEXT) for i in range(len(records))]
    if len(set(uids)) == len(uids):  # no collision (nearly every file)
        for rec, u in zip(records, uids, strict=True):
            rec["metaV2"]["chunkUid"] = u
        return
    dup = Counter(uids)
    for i, u in enumerate(uids):
        if dup[u] > 1:
            uids[i] = uid(i, UID_CONTEXT_WIDE)
    dup = Counter(uids)
    seen: Counter[str] = Counter()
    for i, u in enumerate(uids):
        if dup[u] > 1:
            k = seen[u]
            seen[u] += 1
            uids[i] = f"{u}:ord{k}"
    for rec, u in zip(records, uids, strict=True):
        rec["metaV2"]["chunkUid"] = u


def _chunk_id(rel: str, segment_id: str, start: int, end: int, span_index: int | None) -> str:
    key = f"{rel}|{segment_id}|{start}|{end}"
    if span_index is not None:
        key += f"|{span_index}"
    return "chunk_" + hashlib.sha1(key.encode("utf-8")).hexdigest()


def _records(
    src: SourceFile,
    drafts: tuple[ChunkDraft, ...],
    lines: list[str],
    offsets: _Offsets,
    mode: str,
    keywords: frozenset[str],
    docs: _DocWords,
) -> dict[str, Any]:
    prose = mode != "code"
    chunks: list[dict[str, Any]] = []
    field_tokens: list[dict[str, list[str]]] = []
    tokens: list[list[str]] = []
    embed: list[str] = []
    texts: list[tuple[str, str | bytes, str | bytes]] = []
    text_all = src.text
    # context windows count UTF-16 units; with neither astral characters nor surrogates
    # those are code points, and slicing the str gives the same text
    text16 = None if offsets.narrow else text_all.encode("utf-16-le", "surrogatepass")
    # an ASCII file's word characters, the rest spaces: each code span's \w+ runs are a
    # split of its slice (one translation per file, not one per span and row range)
    wtext = offsets.word_text() if mode == "code" else None
    weights: dict[str, float] = {}  # by kind: the file's rel and ext are fixed

    def weight(kind: str) -> float:
        w = weights[kind] = weight_for(src.rel, kind, src.ext)
        return w

    for d in drafts:
        start16, end16, scp, ecp = offsets.span(d.start_row, d.end_row)
        span_text = text_all[scp:ecp]
        kw = keywords
        segment: dict[str, Any] | None = None
        virtual = src.rel
        if d.segment is not None:
            kw = _lang_keywords(d.lang)
            seg_s, seg_e = d.segment["rows"]
            seg_start16, seg_end16, seg_scp, seg_ecp = offsets.span(seg_s, seg_e)
            seg_uid = "segu:v1:" + xxh64_hex(
                f"seg\0fence\0{d.lang}\0{text_all[seg_scp:seg_ecp]}".encode(
                    "utf-8", "surrogatepass"
                )
            )
            segment = {
                "segmentId": d.segment["segmentId"],
                "segmentUid": seg_uid,
                "type": d.segment["type"],
                "languageId": d.segment["languageId"],
                "start": seg_start16,
                "end": seg_end16,
            }
            virtual = f"{src.rel}#seg:{seg_uid}"
        usages: list[str] = []
        if mode == "code":
            words: list[str] | None
            if not d.comment_rows:
                # the body text is these rows as well (bar a final \r, no token of its own)
                if wtext is not None:
                    words = wtext[scp:ecp].split()
                else:
                    words = raw_words(span_text) if span_text.isascii() else None
                streams = code_tokens(span_text, kw, words)
            elif span_text.isascii():
                # scan the span's rows in place: body streams from the kept ones, usage
                # words from all, each row once (no blanked copy of the body)
                if wtext is not None:
                    ranges = _row_ranges(offsets, d.start_row, d.end_row, d.comment_rows)
                    body, kw_s, ops, words = code_tokens_ranges(text_all, ranges, kw, wtext)
                else:  # the span alone is ASCII: its own offsets and word text
                    ranges = _row_ranges(offsets, d.start_row, d.end_row, d.comment_rows, scp)
                    body, kw_s, ops, words = code_tokens_ranges(
                        span_text, ranges, kw, word_text(span_text)
                    )
                streams = (body, kw_s, ops)
            else:  # NFC applies to the body text as a whole
                streams = code_tokens(
                    _blank_rows(lines, d.start_row, d.end_row, d.comment_rows), kw
                )
                words = None
            fields = _code_fields(d, kw, streams, docs)
            usages = raw_identifiers(span_text, words, kw, MAX_USAGES)
        elif mode == "extracted-prose":
            fields = _prose_fields(d.name, d.doc, docs)
        else:
            fields = _prose_fields(d.name, span_text)
        unf = _unfielded(fields, prose)
        headline = headline_for(d.doc, d.name, unf)
        meta: dict[str, Any] = {
            "chunkId": _chunk_id(
                src.rel, segment["segmentId"] if segment else "", start16, end16, d.span_index
            ),
            "chunkUid": "",
            "file": src.rel,
            "segment": segment,
            "container": {"ext": src.ext, "languageId": src.lang},
            "effective": {"ext": src.ext, "languageId": d.lang},
            "kind": d.kind,
            "name": d.name,
            "signature": d.signature,
            "doc": d.doc,  # extracted-prose: the comment/docstring text itself
            "modifiers": d.modifiers,
            "params": list(d.params),
            "returns": d.returns,
            "decorators": list(d.decorators),
            "codeRelations": {
                "imports": list(d.imports),
                "calls": list(d.calls),
                "usages": usages,
            },
        }
        if d.heading_path is not None:
            meta["headingPath"] = list(d.heading_path)
        rec: dict[str, Any] = {
            "file": src.rel,
            "ext": src.ext,
            "lang": d.lang,
            "start": start16,
            "end": end16,
            "startLine": d.start_row + 1,
            "endLine": d.end_row + 1,
            "kind": d.kind,
            "name": d.name,
            "headline": headline,
            "weight": weights[d.kind] if d.kind in weights else weight(d.kind),
            "metaV2": meta,
            "_virtual": virtual,
        }
        if d.span_index is not None:
            rec["spanIndex"] = d.span_index
        chunks.append(rec)
        field_tokens.append(fields)
        tokens.append(unf)
        if mode == "prose":
            heading = " / ".join([*(d.heading_path or ()), d.name]) if d.name else ""
            embed.append(f"{heading}\n{span_text}")
        elif mode == "extracted-prose":
            embed.append(f"{d.name}\n{d.doc}")
        else:
            embed.append(f"{d.name}\n{d.signature}\n{d.doc}\n{span_text}")
        if text16 is None:
            texts.append(
                (
                    span_text,
                    text_all[max(0, scp - UID_CONTEXT_WIDE) : scp],
                    text_all[ecp : ecp + UID_CONTEXT_WIDE],
                )
            )
        else:  # context windows count UTF-16 units, as upstream's JS strings do
            texts.append(
                (
                    span_text,
                    text16[max(0, start16 - UID_CONTEXT_WIDE) * 2 : start16 * 2],
                    text16[end16 * 2 : (end16 + UID_CONTEXT_WIDE) * 2],
                )
            )
    _assign_uids(chunks, texts, "ck64:v1:repo", "\r" in text_all)
    for rec in chunks:
        del rec["_virtual"]
    return {"chunks": chunks, "fieldTokens": field_tokens, "tokens": tokens, "embedText": embed}


def bundle_from_source(
    src: SourceFile, cfg: IndexingConfig, modes: tuple[str, ...]
) -> dict[str, Any]:
    """Chunk and tokenize one read file into its bundle."""
    spec = language_by_id(src.lang) or detect(src.rel)
    assert spec is not None
    limits = ChunkingLimits(
        cfg.chunking.max_lines, cfg.chunking.max_bytes, cfg.chunking.window_lines
    )
    lines = split_lines(src.text)
    fc = chunk_file(src.rel, src.text, spec, limits, lines)
    offsets = _Offsets(lines, src.text)
    out_modes: dict[str, Any] = {}
    docs = _DocWords()
    for mode in modes:
        if mode == "extracted-prose" and spec.mode == "code":
            drafts = fc.extracted
        elif mode == spec.mode:
            drafts = fc.chunks
        elif mode == "code" and fc.segment_chunks:
            drafts = fc.segment_chunks
        else:
            continue
        out_modes[mode] = _records(src, drafts, lines, offsets, mode, fc.keywords, docs)
    repo_map = [
        {
            "file": src.rel,
            "name": c.name,
            "kind": c.kind,
            "signature": c.signature,
            "exported": c.exported,
        }
        for c in fc.chunks
        if c.kind.endswith("Declaration") or c.kind == "TypeAlias"
        if c.span_index in (None, 0)
    ]
    return {
        "version": BUNDLE_VERSION,
        "file": src.rel,
        "lang": src.lang,
        "ext": src.ext,
        "size": src.size,
        "mtimeMs": src.mtime_ns // 1_000_000,
        "mtimeNs": src.mtime_ns,
        "hash": "xxh64:" + xxh64_hex(src.data),
        "encoding": src.encoding,
        "encodingFallback": src.encoding_fallback,
        "lines": src.lines,
        "unstable": src.unstable,
        "modes": out_modes,
        "relations": {"imports": list(fc.imports), "exports": list(fc.exports)},
        "repoMap": repo_map,
        "warnings": list(fc.warnings),
    }


def process_file(
    root: Path, cand: Candidate, cfg: IndexingConfig, modes: tuple[str, ...]
) -> dict[str, Any] | Skipped:
    """Worker entry: read the candidate once and build its bundle (or report the skip)."""
    src = read_source(root, cand, cfg)
    if isinstance(src, Skipped):
        return src
    was = gc.isenabled()
    gc.disable()  # many small lists, no cycles: collections only cost time
    try:
        return bundle_from_source(src, cfg, modes)
    finally:
        if was:
            gc.enable()


def file_stem(rel: str) -> str:
    """The stem Module chunks are named after."""
    return PurePosixPath(rel).stem
