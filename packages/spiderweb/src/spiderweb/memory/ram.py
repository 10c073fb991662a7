"""Session working memory (RAM, spec §5.1): a pure value-holding class, no locks, no I/O.

Only the session's owner task mutates a ``Ram``; everything else gets copies
(``load()``, ``to_state()``, item lists). The invariants that fix M10's
defects D1-D3/D24 live here:

- ``MemoryID``s start at 1 and only grow: ``reset()`` keeps ``next_id``.
- Hard limits count **active** entries only, and an append never evicts
  itself, so the context is never emptied by tombstones.
- An over-long entry is kept truncated at a UTF-8 character boundary.
- At most ``max_tombstones`` tombstones and ``max_summaries`` summaries stay
  in RAM (the oldest go; LTM snapshots still hold them).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, TypeGuard, cast

import orjson
from groundwork.llm.types import Message

from spiderweb.memory.settings import MemoryConfig

Role = Literal["system", "user", "assistant", "tool", "tool_result"]
EntryState = Literal["active", "tombstone"]
ROLES: frozenset[str] = frozenset({"system", "user", "assistant", "tool", "tool_result"})
STATES: frozenset[str] = frozenset({"active", "tombstone"})

EVICTED_TEXT = "[evicted context entry]"
SUMMARY_HEADER = "Earlier conversation (summaries):\n"
SUMMARY_CONTEXT_BYTES = 2048
_SURROGATE = re.compile("[\ud800-\udfff]")


def clean_text(text: str) -> str:
    """``text`` with lone surrogates (legal in JSON escapes, not in UTF-8) replaced by U+FFFD.

    Everything stored (RAM, snapshots, transcript) must encode as UTF-8, or a
    crafted ``"\\ud800"`` in a message would make the write-through fail.
    """
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return _SURROGATE.sub("\ufffd", text)
    return text


def utf8_len(text: str) -> int:
    """Byte length as stored and limited (lone surrogates counted, never raised on)."""
    return len(text.encode("utf-8", "surrogatepass"))


def truncate_utf8(text: str, max_bytes: int) -> str:
    """The longest prefix of ``text`` within ``max_bytes`` UTF-8 bytes, cut at a char boundary."""
    raw = text.encode("utf-8", "surrogatepass")
    if len(raw) <= max_bytes:
        return text
    # A prefix of valid UTF-8 can only end in an incomplete sequence; "ignore" drops it.
    return raw[: max(0, max_bytes)].decode("utf-8", "ignore")


def truncate_entry(text: str, max_bytes: int) -> tuple[str, int]:
    """Fit ``text`` into ``max_bytes`` with the `` …[truncated N bytes]`` marker.

    Returns the stored text and N, the number of original bytes left out
    (0 when the text already fits). The marker is counted inside the budget.
    """
    total = utf8_len(text)
    if total <= max_bytes:
        return text, 0
    dropped = total
    while True:
        marker = f" …[truncated {dropped} bytes]"
        kept = truncate_utf8(text, max_bytes - utf8_len(marker))
        actual = total - utf8_len(kept)
        if actual == dropped:
            return kept + marker, dropped
        if len(str(actual)) == len(str(dropped)):
            # Same marker width: the recount cannot change the prefix any more.
            marker = f" …[truncated {actual} bytes]"
            return kept + marker, actual
        dropped = actual


def _encode(item: dict[str, Any]) -> bytes:
    """``orjson.dumps(item)`` copied to an exact-size ``bytes`` object, for keeping.

    orjson (3.13) returns its 4 KiB output buffer unshrunk, so each kept encoding
    of a ~200-byte entry held 4 KiB: up to 192 items x 200 sessions filled ~150 MiB
    during a soak (P9). The copy costs ~0.2 us, once per item.
    """
    return memoryview(orjson.dumps(item)).tobytes()


@dataclass(frozen=True, slots=True)
class Entry:
    """One RAM entry; tombstones record what was evicted or summarized (``related_to``)."""

    id: int
    role: Role
    content: str
    state: EntryState = "active"
    related_to: int | None = None
    created_at_ms: int = 0

    def to_dict(self) -> dict[str, Any]:
        """State-v2 form: M10's keys plus ``created_at_ms``."""
        return {
            "id": self.id,
            "role": self.role,
            "state": self.state,
            "content": self.content,
            "related_to": self.related_to,
            "created_at_ms": self.created_at_ms,
        }

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> Entry:
        """Parse a state-v2/snapshot entry; raises ``ValueError`` on a malformed one."""
        ident = raw.get("id")
        role = raw.get("role")
        state = raw.get("state", "active")
        content = raw.get("content")
        related = raw.get("related_to")
        created = raw.get("created_at_ms", 0)
        if not _is_int(ident) or ident < 1:
            raise ValueError(f"entry id must be a positive int, got {ident!r}")
        if role not in ROLES:
            raise ValueError(f"entry role must be one of {sorted(ROLES)}, got {role!r}")
        if state not in STATES:
            raise ValueError(f"entry state must be active or tombstone, got {state!r}")
        if not isinstance(content, str):
            raise ValueError("entry content must be a string")
        if related is not None and not _is_int(related):
            raise ValueError("entry related_to must be an int or null")
        if not _is_int(created):
            created = 0
        return cls(
            id=ident,
            role=cast(Role, role),
            content=content,
            state=cast(EntryState, state),
            related_to=related,
            created_at_ms=created,
        )


@dataclass(frozen=True, slots=True)
class Summary:
    """A summary of one dropped entry (``source_id``); ``id`` is its own MemoryID."""

    id: int
    source_id: int
    text: str
    created_at_ms: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "source_id": self.source_id,
            "text": self.text,
            "created_at_ms": self.created_at_ms,
        }

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> Summary:
        """Parse a state-v2/snapshot summary; raises ``ValueError`` on a malformed one."""
        ident = raw.get("id")
        source = raw.get("source_id")
        text = raw.get("text")
        created = raw.get("created_at_ms", 0)
        if not _is_int(ident) or ident < 1:
            raise ValueError(f"summary id must be a positive int, got {ident!r}")
        if not _is_int(source):
            raise ValueError("summary source_id must be an int")
        if not isinstance(text, str):
            raise ValueError("summary text must be a string")
        return cls(ident, source, text, created if _is_int(created) else 0)


@dataclass(frozen=True, slots=True)
class RamLimits:
    """The §5.1 limits, taken from ``MemoryConfig``."""

    max_context_messages: int = 64
    max_context_bytes: int = 16384
    max_entry_bytes: int = 8192
    max_tombstones: int = 64
    max_summaries: int = 64

    @classmethod
    def from_config(cls, cfg: MemoryConfig) -> RamLimits:
        return cls(
            cfg.max_context_messages,
            cfg.max_context_bytes,
            cfg.max_entry_bytes,
            cfg.max_tombstones,
            cfg.max_summaries,
        )


@dataclass(frozen=True, slots=True)
class UpdateResult:
    """What ``update`` did: the new entry, the ids it evicted, original bytes truncated away."""

    entry: Entry
    evicted: tuple[int, ...]
    truncated_bytes: int


class Ram:
    """Bounded working memory of one session (owned by its actor)."""

    __slots__ = (
        "_active_bytes",
        "_active_count",
        "_ctx_block",
        "_ctx_identity",
        "_ctx_ids",
        "_ctx_msgs",
        "_enc_entries",
        "_enc_new_entries",
        "_enc_new_summaries",
        "_enc_summaries",
        "_entries",
        "_next_id",
        "_summaries",
        "limits",
    )

    def __init__(self, limits: RamLimits | None = None, *, next_id: int = 1) -> None:
        self.limits = limits or RamLimits()
        self._next_id = max(1, next_id)
        self._entries: list[Entry] = []  # active + tombstones, in id order
        self._summaries: list[Summary] = []  # in id order
        self._active_count = 0
        self._active_bytes = 0
        # JSON of each entry/summary by id, in list order, kept in step with every change;
        # items added since the last state_json_parts wait in the _enc_new_* lists.
        self._enc_entries: dict[int, bytes] = {}
        self._enc_summaries: dict[int, bytes] = {}
        self._enc_new_entries: list[Entry] = []
        self._enc_new_summaries: list[Summary] = []
        # The model-context message of each active entry, of the identity and of the
        # summary block, with the value each was made from (see model_context).
        self._ctx_ids: list[int] = []  # the active entries' ids, in order
        self._ctx_msgs: list[Message] = []  # and their model-context messages
        self._ctx_identity: Message | None = None
        self._ctx_block: tuple[tuple[int, int, int], Message | None] | None = None

    # -- read side -------------------------------------------------------------------------
    @property
    def next_id(self) -> int:
        """The MemoryID the next entry or summary gets."""
        return self._next_id

    @property
    def active_count(self) -> int:
        return self._active_count

    @property
    def active_bytes(self) -> int:
        return self._active_bytes

    @property
    def tombstone_count(self) -> int:
        return len(self._entries) - self._active_count

    @property
    def summary_count(self) -> int:
        return len(self._summaries)

    @property
    def entries(self) -> tuple[Entry, ...]:
        """All entries (active and tombstones) in id order."""
        return tuple(self._entries)

    @property
    def summaries(self) -> tuple[Summary, ...]:
        return tuple(self._summaries)

    def is_empty(self) -> bool:
        """True when there is nothing to archive (no entries, no summaries)."""
        return not self._entries and not self._summaries

    def load(self) -> list[Entry]:
        """``LOAD()``: the active entries in order (values are immutable)."""
        return [e for e in self._entries if e.state == "active"]

    def get(self, entry_id: int) -> Entry | None:
        for e in self._entries:
            if e.id == entry_id:
                return e
        return None

    def oldest_active(self, n: int) -> list[Entry]:
        """The ``n`` oldest active entries (what the memory manager summarizes)."""
        out: list[Entry] = []
        for e in self._entries:
            if len(out) >= n:
                break
            if e.state == "active":
                out.append(e)
        return out

    # -- mutations -------------------------------------------------------------------------
    def _take_id(self) -> int:
        ident = self._next_id
        self._next_id += 1
        return ident

    def update(self, role: Role, content: str, *, now_ms: int = 0) -> UpdateResult:
        """``UPDATE``: append an active entry (truncated copy if too long), then enforce limits."""
        if role not in ROLES:
            raise ValueError(f"unknown role {role!r}")
        stored, dropped = truncate_entry(clean_text(content), self.limits.max_entry_bytes)
        entry = Entry(self._take_id(), role, stored, "active", None, now_ms)
        self._entries.append(entry)
        self._enc_new_entries.append(entry)
        self._ctx_ids.append(entry.id)
        self._ctx_msgs.append(_context_message(entry))
        self._active_count += 1
        self._active_bytes += utf8_len(stored)
        evicted = self._enforce_limits(now_ms)
        return UpdateResult(entry, evicted, dropped)

    def _enforce_limits(self, now_ms: int) -> tuple[int, ...]:
        evicted: list[int] = []
        lim = self.limits
        while self._active_count > 1 and (
            self._active_count > lim.max_context_messages
            or self._active_bytes > lim.max_context_bytes
        ):
            ident = self.evict(now_ms=now_ms)
            if ident is None:  # pragma: no cover - active_count > 1 guarantees one
                break
            evicted.append(ident)
        return tuple(evicted)

    def evict(self, *, now_ms: int = 0) -> int | None:
        """``EVICT``: drop the oldest active entry, append its tombstone; returns its id."""
        for i, e in enumerate(self._entries):
            if e.state == "active":
                del self._entries[i]
                self._forget_entry(e)
                self._forget_context(e.id)
                self._active_count -= 1
                self._active_bytes -= utf8_len(e.content)
                text = f"[evicted:{e.id}] {EVICTED_TEXT}"
                tomb = Entry(self._take_id(), "system", text, "tombstone", e.id, now_ms)
                self._append_tombstone(tomb)
                return e.id
        return None

    def summarize(self, entry_id: int, text: str, *, now_ms: int = 0) -> Summary | None:
        """``SUMMARIZE``: replace active ``entry_id`` by a summary (id n) and tombstone (n+1).

        Returns ``None`` (and changes nothing) when the entry is no longer active,
        which is how a late summarizer result is discarded.
        """
        idx = next(
            (i for i, e in enumerate(self._entries) if e.id == entry_id and e.state == "active"),
            None,
        )
        if idx is None:
            return None
        e = self._entries.pop(idx)
        self._forget_entry(e)
        self._forget_context(e.id)
        self._active_count -= 1
        self._active_bytes -= utf8_len(e.content)
        bounded, _ = truncate_entry(clean_text(text), self.limits.max_entry_bytes)
        summary = Summary(self._take_id(), entry_id, bounded, now_ms)
        self._summaries.append(summary)
        self._enc_new_summaries.append(summary)
        self._drop_oldest_summaries()
        text = f"[summarized:{entry_id}] {bounded}"
        tomb = Entry(self._take_id(), "system", text, "tombstone", entry_id, now_ms)
        self._append_tombstone(tomb)
        return summary

    def _append_tombstone(self, tomb: Entry) -> None:
        self._entries.append(tomb)
        self._enc_new_entries.append(tomb)
        self._drop_oldest_tombstones()

    def _drop_oldest_summaries(self) -> None:
        excess = len(self._summaries) - self.limits.max_summaries
        if excess > 0:
            for old in self._summaries[:excess]:
                self._forget_summary(old)
            del self._summaries[:excess]

    def _forget_entry(self, e: Entry) -> None:
        """Drop a removed entry's encoding (or, if not encoded yet, its pending place)."""
        if self._enc_entries.pop(e.id, None) is None and e in self._enc_new_entries:
            self._enc_new_entries.remove(e)

    def _forget_context(self, entry_id: int) -> None:
        """Drop a no longer active entry's model-context message."""
        i = self._ctx_ids.index(entry_id)
        del self._ctx_ids[i]
        del self._ctx_msgs[i]

    def _forget_summary(self, s: Summary) -> None:
        if self._enc_summaries.pop(s.id, None) is None and s in self._enc_new_summaries:
            self._enc_new_summaries.remove(s)

    def _drop_oldest_tombstones(self) -> None:
        excess = self.tombstone_count - self.limits.max_tombstones
        if excess <= 0:
            return
        # Deleted in place up to the last excess one: usually a single tombstone near the
        # front, where rebuilding the ~130-entry list cost ~12 us twice a turn (P2).
        entries = self._entries
        i = 0
        while excess > 0 and i < len(entries):
            if entries[i].state == "tombstone":
                self._forget_entry(entries[i])
                del entries[i]
                excess -= 1
            else:
                i += 1

    def reset(self) -> None:
        """Empty RAM (``/new``, ``clear``) while keeping ``next_id``: ids are never reused."""
        self._entries.clear()
        self._summaries.clear()
        self._reset_encodings()
        self._active_count = 0
        self._active_bytes = 0

    def _reset_encodings(self) -> None:
        """Every current item becomes pending again (after a wholesale change of the lists)."""
        self._enc_entries = {}
        self._enc_summaries = {}
        self._enc_new_entries = list(self._entries)
        self._enc_new_summaries = list(self._summaries)
        actives = [e for e in self._entries if e.state == "active"]
        self._ctx_ids = [e.id for e in actives]
        self._ctx_msgs = [_context_message(e) for e in actives]

    # -- model context ---------------------------------------------------------------------
    def model_context(self, identity: str) -> list[Message]:
        """Messages for a model call: identity, recent summaries (≤ 2 KiB), then ``LOAD()``.

        Every turn sends the whole context, and building ~66 frozen messages
        each time was ~10 % of a turn's CPU (P3). Entries are immutable, so each
        active entry's message is made when it is appended and kept, in order,
        while the entry is active (every change of the lists updates it); the
        identity's and the summary block's are kept until they change. The list
        is new each call.
        """
        head = self._ctx_identity
        if head is None or head.content != identity:
            head = self._ctx_identity = Message("system", identity)
        out = [head]
        block = self._summary_message()
        if block is not None:
            out.append(block)
        out += self._ctx_msgs
        return out

    def _summary_message(self) -> Message | None:
        """:meth:`summary_block` as a message, rebuilt only when the summaries changed.

        Summaries are only appended (new, higher ids), dropped from the front or
        cleared, and never change, so (count, first id, last id) names the list.
        """
        sums = self._summaries
        if not sums:
            return None
        key = (len(sums), sums[0].id, sums[-1].id)
        cached = self._ctx_block
        if cached is None or cached[0] != key:
            block = self.summary_block()
            cached = self._ctx_block = (key, None if block is None else Message("system", block))
        return cached[1]

    def summary_block(self) -> str | None:
        """The summaries message: the newest summaries that fit 2048 bytes, oldest first."""
        if not self._summaries:
            return None
        budget = SUMMARY_CONTEXT_BYTES - utf8_len(SUMMARY_HEADER)
        lines: list[str] = []
        for s in reversed(self._summaries):
            line = f"- {s.text}"
            cost = utf8_len(line) + (1 if lines else 0)
            if cost > budget:
                if not lines:
                    lines.append(truncate_utf8(line, budget))
                break
            lines.append(line)
            budget -= cost
        return SUMMARY_HEADER + "\n".join(reversed(lines))

    # -- recall/query items (RAM part of §4.1) ---------------------------------------------
    def summary_items(self) -> list[dict[str, Any]]:
        """RAM summaries as recall/query items, newest first."""
        return [summary_item(s, "ram") for s in reversed(self._summaries)]

    def entry_items(self, *, include_tombstones: bool) -> list[dict[str, Any]]:
        """RAM entries as items, newest first (recall: active only; query: tombstones too)."""
        return [
            entry_item(e, "ram")
            for e in reversed(self._entries)
            if include_tombstones or e.state == "active"
        ]

    # -- state v2 --------------------------------------------------------------------------
    def to_state(self) -> dict[str, Any]:
        """The RAM keys of a state-v2 session object (``next_id``, ``entries``, ``summaries``)."""
        return {
            "next_id": self._next_id,
            "entries": [e.to_dict() for e in self._entries],
            "summaries": [s.to_dict() for s in self._summaries],
        }

    def state_json_parts(self) -> tuple[bytes, bytes]:
        """The ``entries`` and ``summaries`` arrays of :meth:`to_state` as JSON bytes.

        The session is committed after every turn, and re-encoding ~190
        entry dicts each time was the main cost of a turn (P2). Entries and
        summaries are immutable, so each is encoded once, when first committed,
        and its encoding kept (in list order) until it leaves RAM: every change
        of the lists updates the encodings too, so a commit encodes only the
        items added since the previous one and joins the rest (checking ~190
        cached items per commit was ~6 % of a P3 turn). Raises
        ``orjson.JSONEncodeError`` on text orjson refuses (a lone surrogate);
        the caller then takes the canonical path, and nothing here changes.
        """
        if self._enc_new_entries:
            fresh = [(e.id, _encode(e.to_dict())) for e in self._enc_new_entries]
            self._enc_entries.update(fresh)
            self._enc_new_entries = []
        if self._enc_new_summaries:
            done = [(x.id, _encode(x.to_dict())) for x in self._enc_new_summaries]
            self._enc_summaries.update(done)
            self._enc_new_summaries = []
        entries = b"[" + b",".join(self._enc_entries.values()) + b"]"
        summaries = b"[" + b",".join(self._enc_summaries.values()) + b"]"
        return entries, summaries

    @classmethod
    def from_state(cls, state: Mapping[str, Any], limits: RamLimits | None = None) -> Ram:
        """Rebuild RAM from a state-v2 object; raises ``ValueError`` if it is malformed.

        ``next_id`` is raised above every stored id, so a hand-edited or
        truncated file can never make ids repeat; limits are re-applied.
        """
        raw_entries = state.get("entries", [])
        raw_summaries = state.get("summaries", [])
        if not isinstance(raw_entries, list) or not isinstance(raw_summaries, list):
            raise ValueError("entries and summaries must be lists")
        entries = [Entry.from_dict(_as_mapping(x)) for x in raw_entries]
        summaries = [Summary.from_dict(_as_mapping(x)) for x in raw_summaries]
        next_id = state.get("next_id", 1)
        if not _is_int(next_id):
            raise ValueError("next_id must be an int")
        ram = cls(limits, next_id=next_id)
        ram._install(entries, summaries)
        return ram

    @classmethod
    def from_snapshot(
        cls,
        entries: Iterable[Entry],
        summaries: Iterable[Summary],
        next_id: int,
        limits: RamLimits | None = None,
    ) -> Ram:
        """Restore from an LTM snapshot: active entries newest first within the hard limits.

        Tombstones are not restored (the snapshot keeps them); summaries are,
        up to ``max_summaries``.
        """
        ram = cls(limits, next_id=next_id)
        lim = ram.limits
        actives = sorted((e for e in entries if e.state == "active"), key=lambda e: e.id)
        kept: list[Entry] = []
        size = 0
        for e in reversed(actives):
            stored, _ = truncate_entry(e.content, lim.max_entry_bytes)
            cost = utf8_len(stored)
            full = len(kept) >= lim.max_context_messages or size + cost > lim.max_context_bytes
            if kept and full:
                break
            kept.append(Entry(e.id, e.role, stored, "active", e.related_to, e.created_at_ms))
            size += cost
        kept.reverse()
        ram._install(kept, list(summaries))
        return ram

    def _install(self, entries: Sequence[Entry], summaries: Sequence[Summary]) -> None:
        ordered = sorted(entries, key=lambda e: e.id)
        ids = [e.id for e in ordered]
        if len(set(ids)) != len(ids):
            raise ValueError("duplicate entry ids")
        sums = sorted(summaries, key=lambda s: s.id)
        high = max([0, *ids, *(s.id for s in sums)])
        self._next_id = max(self._next_id, high + 1)
        self._entries = []
        self._active_count = 0
        self._active_bytes = 0
        for e in ordered:
            if e.state == "active":
                stored, _ = truncate_entry(e.content, self.limits.max_entry_bytes)
                e = Entry(e.id, e.role, stored, "active", e.related_to, e.created_at_ms)
                self._active_count += 1
                self._active_bytes += utf8_len(stored)
            self._entries.append(e)
        self._summaries = sums[-self.limits.max_summaries :] if self.limits.max_summaries else []
        self._reset_encodings()
        self._drop_oldest_tombstones()
        self._enforce_limits(0)


def _context_message(e: Entry) -> Message:
    """An entry as the model sees it: tool and system roles are sent as ``system``."""
    role: Literal["system", "user", "assistant"]
    role = e.role if e.role in ("user", "assistant") else "system"
    return Message(role, e.content)


def summary_item(s: Summary, source: Literal["ram", "ltm"]) -> dict[str, Any]:
    """A §4.1 summary item."""
    return {
        "kind": "summary",
        "source": source,
        "id": s.id,
        "source_id": s.source_id,
        "created_at_ms": s.created_at_ms,
        "text": s.text,
    }


def entry_item(e: Entry, source: Literal["ram", "ltm"]) -> dict[str, Any]:
    """A §4.1 entry item."""
    return {
        "kind": "entry",
        "source": source,
        "id": e.id,
        "role": e.role,
        "state": e.state,
        "related_to": e.related_to,
        "content": e.content,
    }


def _is_int(v: object) -> TypeGuard[int]:
    return isinstance(v, int) and not isinstance(v, bool)


def _as_mapping(v: object) -> Mapping[str, Any]:
    if not isinstance(v, Mapping):
        raise ValueError("expected an object")
    return v
