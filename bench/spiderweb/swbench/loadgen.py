"""The load generator process: ``python -m swbench.loadgen`` reads one JSON spec on stdin.

It prints JSON lines on stdout: ``{"event":"connected",...}`` once every
connection of its shard is open, then one ``{"event":"result",...}``. Modes:

- ``turns``: closed-loop turns (spiderweb ``chat.send`` → ``session.receive``,
  or the same frame echoed), optional idle sessions, paused goals and one slow
  consumer; records acknowledged request ids for the kill/restart checks.
- ``seed``: one turn per key, then disconnect (stored sessions for P5).
- ``storm``: P4's reconnect storm (protocol 2, drop mid-turn, return < 1 s).
- ``goals``: P8's 6-task goal bursts.
- ``verify``: page ``session.history`` of each key and check acknowledged ids.
- ``state``: attach each key and report its reconnect frame and counters.

Every loop is bounded by a count and by ``hard_s``; the process exits on its own.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import random
import sys
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from swbench.procutil import raise_nofile_limit
from swbench.wire import Conn, ConnectionClosed, Frame, close_code, stream_url

Spec = dict[str, Any]
TURN_TIMEOUT_S = 30.0
REPLY_OR_ERROR = ("session.receive", "error")
CONNECT_CONCURRENCY = 64


def emit(event: str, **fields: Any) -> None:
    sys.stdout.write(json.dumps({"event": event, **fields}) + "\n")
    sys.stdout.flush()


def content_for(key: str, i: int, size: int) -> str:
    text = f"turn {i} from {key}: "
    return (text + "x" * max(0, size - len(text)))[: max(size, 1)]


@dataclass
class Tally:
    """Counts of one shard; merged by the orchestrator."""

    latencies_ms: list[float] = field(default_factory=list)
    errors: Counter[str] = field(default_factory=Counter)
    closes: Counter[str] = field(default_factory=Counter)
    acked: dict[str, list[str]] = field(default_factory=dict)
    samples: dict[str, str] = field(default_factory=dict)
    turns: int = 0

    def error(self, frame: Frame) -> str:
        """Count an error frame; a refusal because the server is stopping is kept apart."""
        code = str(frame.get("code"))
        message = str(frame.get("message", ""))
        if "shutting down" in message:
            code += ":shutdown"
        self.errors[code] += 1
        self.samples.setdefault(code, message[:200])
        return code

    def ack(self, key: str, rid: str) -> None:
        self.acked.setdefault(key, []).append(rid)

    def as_dict(self) -> dict[str, Any]:
        return {
            "latencies_ms": [round(x, 4) for x in self.latencies_ms],
            "errors": dict(self.errors),
            "closes": dict(self.closes),
            "acked": self.acked,
            "error_samples": self.samples,
            "turns": self.turns,
        }


async def bounded(items: list[Any], fn: Callable[[Any], Awaitable[Any]], limit: int) -> list[Any]:
    """``fn`` over ``items`` with at most ``limit`` in flight, results in order."""
    sem = asyncio.Semaphore(limit)

    async def one(item: Any) -> Any:
        async with sem:
            return await fn(item)

    return list(await asyncio.gather(*(one(i) for i in items)))


async def open_session(spec: Spec, key: str, **kw: Any) -> tuple[Conn, Frame | None]:
    """Connect ``key``; for spiderweb also read ``session.ack``."""
    if spec["target"] == "echo":
        return await Conn.open(spec["url"], key, **kw), None
    url = stream_url(
        spec["url"],
        key,
        agent=spec.get("agent", "bench"),
        proto=spec.get("proto", 1),
        resume_from=kw.pop("resume_from", None),
    )
    conn = await Conn.open(url, key, **kw)
    ack = await conn.recv(10.0)
    if ack.get("type") != "session.ack":
        raise RuntimeError(f"expected session.ack, got {ack.get('type')}")
    return conn, ack


async def turn(spec: Spec, conn: Conn, rid: str, content: str, tally: Tally) -> Frame | None:
    """One closed-loop turn; returns the reply (``None`` on an error frame)."""
    t0 = time.perf_counter()
    if spec["target"] == "echo":
        text = json.dumps({"type": "chat.send", "id": rid, "content": content})
        await conn.send_text(text)
        back = await conn.recv_text(TURN_TIMEOUT_S)
        if back != text:
            tally.errors["echo_mismatch"] += 1
            return None
        tally.latencies_ms.append((time.perf_counter() - t0) * 1000)
        tally.turns += 1
        return {"type": "echo"}
    await conn.send({"type": "chat.send", "id": rid, "content": content})
    frames = await conn.until(
        lambda f: f.get("request") == rid and f.get("type") in ("session.receive", "error"),
        TURN_TIMEOUT_S,
    )
    last = frames[-1]
    if last["type"] == "error":
        if tally.error(last).endswith(":shutdown"):
            await asyncio.sleep(0.05)  # told to come back later: do not spin
        return None
    tally.latencies_ms.append((time.perf_counter() - t0) * 1000)
    tally.turns += 1
    if spec.get("record_acks"):
        tally.ack(conn.key, rid)
    return last


# -- turns -----------------------------------------------------------------------------------
async def paused_goal(conn: Conn) -> dict[str, Any]:
    """Pause, then plan a 3-task goal: it stays queued with live counters."""
    await conn.request(
        {"type": "agent.control", "id": f"{conn.key}-pause", "action": "pause"},
        "agent.state",
        TURN_TIMEOUT_S,
    )
    rid = f"{conn.key}-goal"
    await conn.send({"type": "agent.control", "id": rid, "action": "goal", "goal": "a; b; c"})
    await conn.until(
        lambda f: (
            f.get("type") == "agent.state"
            and f.get("request") == rid
            and f.get("phase") != "workers.dispatching"
        ),
        TURN_TIMEOUT_S,
    )
    return await agent_state(conn)


async def agent_state(conn: Conn) -> dict[str, Any]:
    state = await conn.request(
        {
            "type": "agent.control",
            "id": f"{conn.key}-state-{time.monotonic_ns()}",
            "action": "state",
        },
        "agent.state",
        TURN_TIMEOUT_S,
    )
    return {k: state.get(k) for k in ("queuedTasks", "activeTasks", "droppedTasks", "mode")}


def peer_send_queue(conn: Conn) -> int | None:
    """Bytes queued in the server's socket towards ``conn`` (Linux ``/proc/net/tcp``).

    Both ends are on this machine, so the server-side socket is the row whose
    local port is the server's and whose remote port is ours.
    """
    transport = conn.ws.transport
    sockname = transport.get_extra_info("sockname") if transport else None
    peername = transport.get_extra_info("peername") if transport else None
    if not sockname or not peername:
        return None
    want_local, want_remote = f"{peername[1]:04X}", f"{sockname[1]:04X}"
    try:
        with open("/proc/net/tcp") as fh:
            next(fh)
            for line in fh:
                parts = line.split()
                local, remote, queues = parts[1], parts[2], parts[4]
                if local.endswith(":" + want_local) and remote.endswith(":" + want_remote):
                    return int(queues.split(":")[0], 16)
    except (OSError, StopIteration, IndexError, ValueError):
        return None
    return None


async def wait_blocked(conn: Conn, limit_s: float) -> int:
    """Wait until the server's send queue towards us stops growing (its socket is full)."""
    last, stable, deadline = -1, 0, time.monotonic() + limit_s
    while time.monotonic() < deadline:
        queued = peer_send_queue(conn)
        if queued is None:
            await asyncio.sleep(min(3.0, limit_s))
            return -1
        stable = stable + 1 if queued == last and queued > 0 else 0
        if stable >= 5:
            return queued
        last = queued
        await asyncio.sleep(0.1)
    return last


async def slow_consumer(spec: Spec, conn: Conn, cfg: dict[str, Any]) -> dict[str, Any]:
    """A client that stops reading while the server has lots to send: it must get 1013.

    It stores ``warm_turns`` 4 KB turns (reading normally), then asks for
    ``big`` full transcripts (about 120 KB each, fewer than the 64-slot inbox)
    without reading, waits until the server's socket towards it is full, then
    sends ``burst`` pings: their replies pile up in the outbox past its 256
    frames, and the server closes. Draining right away (well inside the
    server's 5 s close timeout) reads up to the close frame and its code.
    """
    tally = Tally()
    for i in range(cfg.get("warm_turns", 30)):
        await turn(spec, conn, f"{conn.key}-w{i}", content_for(conn.key, i, 4000), tally)
    sent = 0
    queued = -1
    try:
        for i in range(cfg.get("big", 60)):
            await conn.send({"type": "session.history", "id": f"h{i}", "limit": 500})
            sent += 1
        queued = await wait_blocked(conn, cfg.get("block_wait_s", 15.0))
        for i in range(cfg.get("burst", 400)):
            await conn.send({"type": "ping", "id": f"p{i}"})
            sent += 1
    except ConnectionClosed:
        pass
    await asyncio.sleep(cfg.get("hold_s", 1.5))
    drained = 0
    code: int | None = None
    deadline = time.monotonic() + 30
    try:
        while time.monotonic() < deadline:
            await conn.recv_text(max(0.1, deadline - time.monotonic()))
            drained += 1
    except ConnectionClosed as exc:
        code = close_code(exc)
    except TimeoutError:
        code = None
    return {"close_code": code, "sent": sent, "drained": drained, "server_queue_bytes": queued}


async def mode_turns(spec: Spec) -> dict[str, Any]:
    keys: list[str] = spec.get("keys", [])
    idle_keys: list[str] = spec.get("idle_keys", [])
    goal_keys = set(spec.get("paused_goal_keys", []))
    slow_cfg: dict[str, Any] | None = spec.get("slow_consumer")
    per_client: int | None = spec.get("turns_per_client")
    duration = float(spec.get("duration_s", 0) or 0)
    size = int(spec.get("content_bytes", 48))
    stop_on_close = bool(spec.get("stop_on_close"))
    tally = Tally()
    conns: dict[str, Conn] = {}
    t0 = time.perf_counter()

    async def connect(key: str) -> None:
        try:
            conns[key], _ = await open_session(spec, key)
        except Exception as exc:
            tally.errors[f"connect:{type(exc).__name__}"] += 1

    slow_conn: Conn | None = None
    if slow_cfg is not None:
        slow_conn, _ = await open_session(
            spec, slow_cfg["key"], rcvbuf=slow_cfg.get("rcvbuf", 4096), max_queue=1
        )
    await bounded(idle_keys + keys, connect, CONNECT_CONCURRENCY)
    connect_s = time.perf_counter() - t0
    probe_conn: Conn | None = None
    if spec.get("probe"):
        probe_conn, _ = await open_session(spec, f"probe-{spec.get('shard', 0)}")
    goal_states: dict[str, Any] = {}
    for key in sorted(goal_keys & conns.keys()):
        goal_states[key] = await paused_goal(conns[key])
    emit("connected", connected=len(conns), connect_s=connect_s)
    if spec.get("hold_s"):
        await asyncio.sleep(float(spec["hold_s"]))

    started = time.perf_counter()
    deadline = started + duration if duration else started + float(spec.get("hard_s", 600))
    hard = started + float(spec.get("hard_s", 600))

    async def loop(key: str) -> None:
        conn = conns.get(key)
        if conn is None:
            return
        i = 0
        while time.perf_counter() < min(deadline, hard) and (per_client is None or i < per_client):
            try:
                await turn(spec, conn, f"{key}-{i}", content_for(key, i, size), tally)
            except ConnectionClosed as exc:
                tally.closes[str(close_code(exc))] += 1
                return
            except TimeoutError:
                tally.errors["timeout"] += 1
                if stop_on_close:
                    return
            i += 1

    probe_task = None
    if probe_conn is not None:
        probe_task = asyncio.create_task(probe(spec, probe_conn, min(deadline, hard), tally))
    slow_task = None
    if slow_conn is not None and slow_cfg is not None:
        slow_task = asyncio.create_task(slow_consumer(spec, slow_conn, slow_cfg))
    await asyncio.gather(*(loop(k) for k in keys if k in conns))
    window_s = time.perf_counter() - started
    slow = await slow_task if slow_task is not None else None
    probe_ms = await probe_task if probe_task is not None else []

    idle_ok = 0

    async def still_alive(key: str) -> None:
        """An idle session must still answer: ``ping`` → ``pong`` (echo: the same text)."""
        nonlocal idle_ok
        conn = conns.get(key)
        if conn is None:
            return
        try:
            if spec["target"] == "echo":
                text = json.dumps({"type": "ping", "id": f"{key}-ping"})
                await conn.send_text(text)
                ok = await conn.recv_text(10.0) == text
            else:
                reply = await conn.request({"type": "ping", "id": f"{key}-ping"}, "pong", 10.0)
                ok = reply.get("type") == "pong"
            if ok:
                idle_ok += 1
            else:
                tally.errors["idle_ping"] += 1
        except ConnectionClosed as exc:
            tally.closes[str(close_code(exc))] += 1
        except TimeoutError:
            tally.errors["idle_timeout"] += 1

    await bounded(idle_keys, still_alive, CONNECT_CONCURRENCY)
    if spec["target"] == "spiderweb":
        for key in sorted(goal_keys & conns.keys()):
            if conns[key].open_:
                try:
                    goal_states[key] = await agent_state(conns[key])
                except (ConnectionClosed, TimeoutError):
                    pass
    await bounded(list(conns.values()), lambda c: c.close(), CONNECT_CONCURRENCY)
    for extra in (slow_conn, probe_conn):
        if extra is not None:
            await extra.close()
    return {
        **tally.as_dict(),
        "connected": len(conns),
        "connect_s": connect_s,
        "window_s": window_s,
        "idle_ok": idle_ok,
        "idle_total": len(idle_keys),
        "goal_states": goal_states,
        "slow": slow,
        "probe_ms": [round(x, 4) for x in probe_ms],
    }


async def probe(spec: Spec, conn: Conn, until: float, tally: Tally) -> list[float]:
    """``ping`` round trips on an otherwise idle session every 100 ms until ``until``.

    The server answers ``ping`` without any LLM or database work, so the round
    trip under load is mostly the time the frame waits for the event loop: a
    stand-in for loop lag, which the server does not report itself.
    """
    rtts: list[float] = []
    i = 0
    while time.perf_counter() < until and i < 100_000:
        t0 = time.perf_counter()
        try:
            await conn.request({"type": "ping", "id": f"probe-{i}"}, "pong", 10.0)
        except (ConnectionClosed, TimeoutError):
            tally.errors["probe"] += 1
            break
        rtts.append((time.perf_counter() - t0) * 1000)
        i += 1
        await asyncio.sleep(0.1)
    return rtts


# -- seed ------------------------------------------------------------------------------------
async def mode_seed(spec: Spec) -> dict[str, Any]:
    tally = Tally()

    async def one(key: str) -> None:
        try:
            conn, _ = await open_session(spec, key)
            await turn(spec, conn, f"{key}-seed", content_for(key, 0, 48), tally)
            await conn.close()
        except Exception as exc:
            tally.errors[f"seed:{type(exc).__name__}"] += 1

    await bounded(spec["keys"], one, CONNECT_CONCURRENCY)
    emit("connected", connected=len(spec["keys"]), connect_s=0.0)
    return tally.as_dict()


# -- verify ----------------------------------------------------------------------------------
async def history(conn: Conn) -> list[Frame]:
    """The whole transcript, oldest first, paging with ``beforeId``."""
    items: list[Frame] = []
    before: int | None = None
    for page in range(1000):
        frame: Frame = {"type": "session.history", "id": f"hist-{page}", "limit": 500}
        if before is not None:
            frame["beforeId"] = before
        reply = await conn.request(frame, "session.history.response", TURN_TIMEOUT_S)
        if reply["type"] == "error":
            raise RuntimeError(f"session.history failed: {reply.get('message')}")
        batch = reply["items"]
        items = batch + items
        if not reply.get("hasMore") or not batch:
            break
        before = batch[0]["id"]
    return items


def audit(items: list[Frame], acked: list[str]) -> dict[str, int]:
    """Acknowledged ids missing from the transcript, and duplicated messages or ids."""
    pairs = Counter((i.get("request"), i.get("role")) for i in items)
    memory_ids = Counter(i.get("memoryId") for i in items if i.get("memoryId") is not None)
    lost = sum(1 for rid in acked for role in ("user", "assistant") if pairs[(rid, role)] == 0)
    dup_messages = sum(n - 1 for n in pairs.values() if n > 1)
    dup_ids = sum(n - 1 for n in memory_ids.values() if n > 1)
    return {"lost": lost, "dup_messages": dup_messages, "dup_ids": dup_ids, "items": len(items)}


async def mode_verify(spec: Spec) -> dict[str, Any]:
    acked: dict[str, list[str]] = spec["acked"]
    totals: Counter[str] = Counter()
    errors: Counter[str] = Counter()

    async def one(key: str) -> None:
        try:
            conn, _ = await open_session(spec, key)
            result = audit(await history(conn), acked[key])
            totals.update(result)
            await conn.close()
        except Exception as exc:
            errors[f"verify:{type(exc).__name__}"] += 1

    await bounded(sorted(acked), one, 32)
    emit("connected", connected=len(acked), connect_s=0.0)
    return {
        "sessions": len(acked),
        "acked_messages": 2 * sum(len(v) for v in acked.values()),
        **{k: totals.get(k, 0) for k in ("lost", "dup_messages", "dup_ids", "items")},
        "errors": dict(errors),
    }


# -- state -----------------------------------------------------------------------------------
async def mode_state(spec: Spec) -> dict[str, Any]:
    out: dict[str, Any] = {}
    errors: Counter[str] = Counter()

    async def one(key: str) -> None:
        try:
            conn, ack = await open_session(spec, key)
            frames = await conn.until(
                lambda f: f.get("type") == "agent.progress" and f.get("phase") == "reconnect",
                10.0,
            )
            progress = frames[-1]
            state = await agent_state(conn)
            out[key] = {
                "restored": (ack or {}).get("restored"),
                "status": progress.get("status"),
                "source": progress.get("source"),
                **state,
            }
            await conn.close()
        except Exception as exc:
            errors[f"state:{type(exc).__name__}"] += 1

    await bounded(spec["keys"], one, 32)
    emit("connected", connected=len(out), connect_s=0.0)
    return {"states": out, "errors": dict(errors)}


# -- storm (P4) ------------------------------------------------------------------------------
def storm_role(i: int) -> str:
    """Every third session plain, paused with a queued goal, or cancelled."""
    return ("plain", "paused", "cancelled")[i % 3]


async def prepare_storm(conn: Conn, role: str) -> None:
    if role == "paused":
        await paused_goal(conn)
    elif role == "cancelled":
        await conn.request(
            {"type": "agent.control", "id": f"{conn.key}-cancel", "action": "cancel"},
            "agent.state",
            TURN_TIMEOUT_S,
        )


async def mode_storm(spec: Spec) -> dict[str, Any]:
    """P4: half the sessions drop mid-turn and come back within 1 s with ``resume_from``."""
    keys: list[str] = spec["keys"]
    first_index = int(spec.get("first_index", 0))
    spec = {**spec, "proto": 2, "target": "spiderweb", "record_acks": True}
    tally = Tally()
    conns: dict[str, Conn] = {}
    roles = {k: storm_role(first_index + i) for i, k in enumerate(keys)}
    droppers = {k for i, k in enumerate(keys) if (first_index + i) % 2 == 0}
    received: dict[str, dict[int, str]] = {k: {} for k in keys}
    outcome: Counter[str] = Counter()
    wrong: list[dict[str, Any]] = []
    reattach_s: list[float] = []
    rng = random.Random(int(spec.get("seed", 4)))

    def note(key: str, frames: list[Frame]) -> None:
        for f in frames:
            if f.get("type") == "session.receive" and isinstance(f.get("memoryId"), int):
                seen = received[key].setdefault(f["memoryId"], f.get("content", ""))
                if seen != f.get("content"):
                    outcome["dup_ids"] += 1

    async def setup(key: str) -> None:
        try:
            conn, _ = await open_session(spec, key)
            conns[key] = conn
            for i in range(2):
                reply = await turn(spec, conn, f"{key}-{i}", content_for(key, i, 48), tally)
                if reply:
                    note(key, [reply])
            await prepare_storm(conn, roles[key])
        except Exception as exc:
            tally.errors[f"setup:{type(exc).__name__}"] += 1

    await bounded(keys, setup, CONNECT_CONCURRENCY)
    emit("connected", connected=len(conns), connect_s=0.0)
    storm_t0 = time.perf_counter()
    last_reattach = storm_t0

    async def drop_and_return(key: str) -> None:
        nonlocal last_reattach
        conn = conns[key]
        rid = f"{key}-storm"
        await conn.send({"type": "chat.send", "id": rid, "content": content_for(key, 99, 48)})
        conn.abort()
        t_drop = time.perf_counter()
        await asyncio.sleep(rng.uniform(0.05, 0.9))
        last_seq = max(conn.seqs) if conn.seqs else 0
        new, ack = await open_session(spec, key, resume_from=last_seq)
        new.seqs = list(conn.seqs)
        conns[key] = new
        assert ack is not None
        frames = await new.until(
            lambda f: f.get("type") == "agent.progress" and f.get("phase") == "reconnect", 10.0
        )
        took = time.perf_counter() - t_drop
        reattach_s.append(took)
        last_reattach = max(last_reattach, time.perf_counter())
        progress = frames[-1]
        expect = "backpressure_resumed" if roles[key] == "paused" else "state_restored"
        outcome[f"replay_{ack.get('replay')}"] += 1
        if (
            progress.get("status") == expect
            and ack.get("restored") is True
            and ack.get("replay") == "full"
            and progress.get("source") == "memory"
        ):
            outcome["right_status"] += 1
        elif len(wrong) < 10:
            wrong.append(
                {
                    "key": key,
                    "role": roles[key],
                    "status": progress.get("status"),
                    "source": progress.get("source"),
                    "replay": ack.get("replay"),
                    "restored": ack.get("restored"),
                }
            )
        note(key, frames)
        done = [f for f in frames if f.get("request") == rid and f.get("type") == "session.receive"]
        if not done:
            try:
                more = await new.until(
                    lambda f: f.get("request") == rid and f.get("type") == "session.receive", 2.0
                )
                note(key, more)
            except TimeoutError:
                # The turn never reached the server (dropped with the socket): send it again
                # with the same id; the server answers a stored turn without a second one.
                await new.send(
                    {"type": "chat.send", "id": rid, "content": content_for(key, 99, 48)}
                )
                outcome["resent"] += 1
                more = await new.until(
                    lambda f: f.get("request") == rid and f.get("type") in REPLY_OR_ERROR,
                    TURN_TIMEOUT_S,
                )
                if more[-1]["type"] == "error":
                    tally.error(more[-1])
                note(key, more)
        tally.ack(key, rid)

    async def storm_one(key: str) -> None:
        if key not in conns:
            return
        try:
            if key in droppers:
                await drop_and_return(key)
            else:
                reply = await turn(spec, conns[key], f"{key}-s", content_for(key, 50, 48), tally)
                if reply:
                    note(key, [reply])
            reply = await turn(spec, conns[key], f"{key}-after", content_for(key, 51, 48), tally)
            if reply:
                note(key, [reply])
        except ConnectionClosed as exc:
            tally.closes[str(close_code(exc))] += 1
        except Exception as exc:
            tally.errors[f"storm:{type(exc).__name__}"] += 1

    await asyncio.gather(*(storm_one(k) for k in keys))
    dup_seq = 0
    for conn in conns.values():
        seqs = conn.seqs
        dup_seq += len(seqs) - len(set(seqs))
        dup_seq += sum(1 for a, b in itertools.pairwise(seqs) if b < a)  # seq went back
    await bounded(list(conns.values()), lambda c: c.close(), CONNECT_CONCURRENCY)
    return {
        **tally.as_dict(),
        "sessions": len(conns),
        "droppers": len(droppers & conns.keys()),
        "reattached": len(reattach_s),
        "reattach_max_s": max(reattach_s, default=0.0),
        "storm_s": last_reattach - storm_t0,
        "right_status": outcome["right_status"],
        "replay": {k[7:]: v for k, v in outcome.items() if k.startswith("replay_")},
        "resent": outcome["resent"],
        "dup_ids": outcome["dup_ids"],
        "dup_seq": dup_seq,
        "wrong": wrong,
    }


# -- goals (P8) ------------------------------------------------------------------------------
GOAL_6 = "collect the inputs; read the notes; check the status; draft a summary; review it; send it"


async def mode_goals(spec: Spec) -> dict[str, Any]:
    """P8: each session sends a 6-task goal and ``chats`` turns at once, then waits."""
    spec = {**spec, "target": "spiderweb"}
    keys: list[str] = spec["keys"]
    chats = int(spec.get("chats", 3))
    settle_s = float(spec.get("settle_s", 1.0))
    hard_s = float(spec.get("hard_s", 120))
    errors: Counter[str] = Counter()
    progress: Counter[str] = Counter()
    prolonged: dict[str, int] = {}
    saturated_sessions = 0
    counters_nonzero = 0
    unfinished = 0
    conns: dict[str, Conn] = {}

    async def connect(key: str) -> None:
        try:
            conns[key], _ = await open_session(spec, key)
        except Exception as exc:
            errors[f"connect:{type(exc).__name__}"] += 1

    await bounded(keys, connect, CONNECT_CONCURRENCY)
    emit("connected", connected=len(conns), connect_s=0.0)

    async def burst(key: str) -> None:
        nonlocal saturated_sessions, counters_nonzero, unfinished
        conn = conns[key]
        goal_rid = f"{key}-goal"
        chat_rids = {f"{key}-c{i}" for i in range(chats)}
        await conn.send({"type": "chat.send", "id": goal_rid, "content": f"/goal {GOAL_6}"})
        for rid in sorted(chat_rids):
            await conn.send({"type": "chat.send", "id": rid, "content": f"while planning {rid}"})
        pending = set(chat_rids)
        goal_done = workers_ready = False
        saw_saturated = False
        count = 0
        deadline = time.monotonic() + hard_s
        quiet_until: float | None = None
        while time.monotonic() < deadline:
            if goal_done and not pending and quiet_until is None:
                quiet_until = time.monotonic() + settle_s
            wait = (quiet_until or deadline) - time.monotonic()
            if wait <= 0:
                break
            try:
                f = await conn.recv(wait)
            except TimeoutError:
                break
            kind, req = f.get("type"), f.get("request")
            if kind == "error":
                errors[str(f.get("code"))] += 1
                pending.discard(str(req))
            elif kind == "session.receive":
                pending.discard(str(req))
            elif kind == "agent.progress":
                progress[f"{f.get('phase')}/{f.get('status')}"] += 1
                if f.get("phase") == "planner" and f.get("status") == "prolonged_saturation":
                    count += 1
                if (
                    f.get("phase") == "planner"
                    and f.get("status") == "saturated"
                    and req == goal_rid
                ):
                    saw_saturated = True
                if req == goal_rid and f.get("phase") == "workers" and f.get("status") == "ready":
                    workers_ready = True
                if (
                    workers_ready  # an "execution" task reports the same phase before this
                    and req == goal_rid
                    and f.get("phase") == "execution"
                    and f.get("status") in ("complete", "failed")
                ):
                    goal_done = True
            elif kind == "agent.status" and f.get("status") == "timeout":
                errors["task_timeout"] += 1
        if not (goal_done and not pending):
            unfinished += 1
        prolonged[key] = count
        saturated_sessions += int(saw_saturated)
        state = await agent_state(conn)
        if state["queuedTasks"] != 0 or state["activeTasks"] != 0:
            counters_nonzero += 1

    async def guarded(key: str) -> None:
        try:
            await burst(key)
        except ConnectionClosed as exc:
            errors[f"closed:{close_code(exc)}"] += 1
        except Exception as exc:
            errors[f"goals:{type(exc).__name__}"] += 1

    await asyncio.gather(*(guarded(k) for k in keys if k in conns))
    await bounded(list(conns.values()), lambda c: c.close(), CONNECT_CONCURRENCY)
    return {
        "sessions": len(conns),
        "errors": dict(errors),
        "progress": dict(progress),
        "prolonged": prolonged,
        "saturated_sessions": saturated_sessions,
        "counters_nonzero": counters_nonzero,
        "unfinished": unfinished,
    }


MODES: dict[str, Callable[[Spec], Awaitable[dict[str, Any]]]] = {
    "turns": mode_turns,
    "seed": mode_seed,
    "verify": mode_verify,
    "state": mode_state,
    "storm": mode_storm,
    "goals": mode_goals,
}


async def main_async(spec: Spec) -> dict[str, Any]:
    mode = MODES[spec["mode"]]
    return await asyncio.wait_for(mode(spec), float(spec.get("hard_s", 600)) + 120)


def main() -> int:
    raise_nofile_limit()
    spec = json.loads(sys.stdin.read())
    result = asyncio.run(main_async(spec))
    emit("result", **result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
