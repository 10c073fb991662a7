"""Heartbeat (spec §10): a pure check deciding which telemetry a session gets, plus the sweep.

The sweep task only posts a check to each attached actor (skipping full
inboxes); the actor runs :func:`check` on its own state with the injected
clock's time, so every rule is testable on a fake clock.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass

from spiderweb.clock import Clock
from spiderweb.protocol.outbound import AgentProgress, Backlog, Suggestion, progress

log = logging.getLogger(__name__)

SWEEP_REQUEST = "heartbeat-sweep"
#: No task changed state for this long while work remains → ``stalled``.
STALL_AFTER_MS = 30_000


@dataclass(frozen=True, slots=True)
class HeartbeatView:
    """The slice of session state a check reads (a copy; the actor applies the outcome)."""

    session_key: str
    queued: int
    active: int
    dropped: int
    mode: str
    has_goal: bool
    last_saturation_ms: int
    backpressure_notified: bool
    last_task_change_ms: int


@dataclass(frozen=True, slots=True)
class HeartbeatOutcome:
    frames: tuple[AgentProgress, ...]
    #: New value of ``workerBackpressureNotified``.
    notified: bool
    #: New "last check" stamp, or ``None`` to keep the old one.
    stamp_ms: int | None


def check(
    view: HeartbeatView,
    *,
    now_ms: int,
    last_check_ms: int | None,
    forced: bool,
    interval_ms: int,
    warning_ms: int,
    request: str = SWEEP_REQUEST,
) -> HeartbeatOutcome:
    """Decide one heartbeat check; ``last_check_ms`` ``None`` means never checked."""
    if not forced:
        if last_check_ms is None:
            return HeartbeatOutcome((), view.backpressure_notified, now_ms)
        if now_ms - last_check_ms < interval_ms:
            return HeartbeatOutcome((), view.backpressure_notified, None)
    frames: list[AgentProgress] = []
    notified = view.backpressure_notified
    pending = view.queued + view.active
    key = view.session_key
    if pending > 0 and view.has_goal:
        accepted = pending
        backlog = Backlog(
            accepted=accepted,
            total=accepted + view.dropped,
            dropped=view.dropped,
            queued=view.queued,
            active=view.active,
        )
        if view.dropped > 0 and not notified and now_ms - view.last_saturation_ms >= warning_ms:
            notified = True
            frames.append(
                progress(
                    request,
                    key,
                    "planner",
                    "prolonged_saturation",
                    f"Worker saturation persisted: {view.dropped} task(s) dropped, "
                    f"{pending} still pending.",
                    backlog=backlog,
                )
            )
        if view.mode == "paused":
            frames.append(
                progress(
                    request,
                    key,
                    "heartbeat",
                    "blocked",
                    f"Heartbeat detected {view.queued} queued and {view.active} active tasks "
                    "are blocked by pause state.",
                    backlog=backlog,
                    suggestion=Suggestion("resume", "workers are paused"),
                )
            )
        elif view.mode == "running":
            if now_ms - view.last_task_change_ms >= STALL_AFTER_MS:
                frames.append(
                    progress(
                        request,
                        key,
                        "heartbeat",
                        "stalled",
                        f"Heartbeat detected no task progress for "
                        f"{(now_ms - view.last_task_change_ms) // 1000} s: {view.queued} "
                        f"queued + {view.active} active worker tasks remain.",
                        backlog=backlog,
                        suggestion=Suggestion("cancel", "no task changed state"),
                    )
                )
            else:
                frames.append(
                    progress(
                        request,
                        key,
                        "heartbeat",
                        "watching",
                        f"Heartbeat status: {view.queued} queued + {view.active} active "
                        "worker tasks remain for the current goal.",
                        backlog=backlog,
                    )
                )
    elif forced:
        frames.append(
            progress(
                request, key, "heartbeat", "idle", "Heartbeat: no queued or active worker tasks."
            )
        )
    return HeartbeatOutcome(tuple(frames), notified, now_ms)


async def sweep_forever(clock: Clock, interval_ms: int, post_all: Callable[[], list[bool]]) -> None:
    """Every ``interval_ms`` post a check to each attached session (full inboxes are skipped)."""
    while True:
        await clock.sleep(interval_ms / 1000)
        try:
            posted = post_all()
        except Exception:  # a broken sweep must not stop future sweeps
            log.exception("heartbeat sweep failed")
            continue
        skipped = posted.count(False)
        if skipped:
            log.debug("heartbeat sweep skipped %d busy sessions", skipped)
        await asyncio.sleep(0)
