"""Runs in: the init (the disk watch and the usage after a job).

Disk usage of a session, as counted against its quota, and the watch that enforces it
while a job runs.

The usage is the apparent size of the regular files below the session directory. It is
counted without a cap on the number of entries (a cap let bytes hide behind a directory
of many empty files), so what bounds the cost is time:

- `measure` gives up after `TIME_LIMIT` seconds, or when the tree is deeper than the
  walk goes, and then says so (`complete=False`). Callers treat an unfinished count as
  the session being full: `disk_usage` answers `UNMEASURABLE`, larger than any quota,
  so the session refuses writes until files are removed (removal needs no measurement).
- `DiskWatch` walks in slices between the sandbox init's polls, resuming where it
  stopped, so each of its passes is complete however large the session, and a pass costs
  the init at most a quarter of its time.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from dataclasses import dataclass

from supervisor.walk import Item, Walk

TIME_LIMIT = 3.0        # seconds one measurement may take (about a million entries)
UNMEASURABLE = 1 << 62  # the usage of a session whose measurement could not finish
_CLOCK_EVERY = 1024     # entries between two looks at the clock


@dataclass(frozen=True)
class Usage:
    """A measurement: `used` bytes, and whether every entry was counted (else `why` not)."""

    used: int
    complete: bool
    why: str = ""


def _unfinished(walk: Walk, timed_out: bool, limit: float) -> str:
    if walk.too_deep:
        return f"its directories are nested deeper than {walk.max_depth} levels"
    if timed_out:
        return f"it has too many entries to count within {limit:g} s"
    return "some of its entries cannot be read"


def measure(dir_fd: int, time_limit: float = TIME_LIMIT) -> Usage:
    """Count the apparent size of the regular files below `dir_fd`, links never followed.

    Entries that vanish or change type during the walk are skipped (a command or a
    concurrent write may be changing the tree), never an error.
    """
    walk = Walk(dir_fd)
    deadline = time.monotonic() + time_limit
    total = 0
    timed_out = False
    for count, item in enumerate(walk, 1):
        if item.kind == "file":
            total += item.size
        if count % _CLOCK_EVERY == 0 and time.monotonic() > deadline:
            timed_out = True
            break
    if timed_out or not walk.complete:
        return Usage(total, False, _unfinished(walk, timed_out, time_limit))
    return Usage(total, True)


def disk_usage(dir_fd: int) -> int:
    """The session's usage in bytes, or UNMEASURABLE when it could not be counted."""
    usage = measure(dir_fd)
    return usage.used if usage.complete else UNMEASURABLE


class _Pass:
    """One resumable pass over the tree: the sum so far and where the walk stands."""

    def __init__(self, dir_fd: int) -> None:
        self.walk = Walk(dir_fd)
        self.items: Iterator[Item] = iter(self.walk)
        self.total = 0
        self.done = False

    def advance(self, seconds: float) -> None:
        until = time.monotonic() + seconds
        for count, item in enumerate(self.items, 1):
            if item.kind == "file":
                self.total += item.size
            if count % 256 == 0 and time.monotonic() > until:
                return
        self.done = True

    def close(self) -> None:
        self.items.close()  # type: ignore[attr-defined]


class DiskWatch:
    """Stops a job whose writes take its session past the disk quota.

    RLIMIT_FSIZE bounds each file at the session's remaining quota, not their sum: a
    command writing file after file could fill the host's disk within its time limit.
    The sandbox's init calls `check` between polls; each call walks the session for at
    most `SLICE` seconds (links never followed, vanishing entries skipped), resuming
    the pass where the previous call stopped, and every `MIN_INTERVAL` seconds. A job is
    stopped as soon as the bytes counted pass its allowance, or when a pass cannot
    finish (the tree grew deeper than a walk goes). What a job can write past the quota
    is thus bounded by its write rate times the duration of one pass.

    The baseline is measured at start like the supervisor measures (`measure`). When it
    cannot be finished the supervisor could not measure the session either, so the job
    was given no allowance (RLIMIT_FSIZE 0: no file can grow) and the watch stays idle,
    which keeps `rm` usable in such a session.
    """

    MIN_INTERVAL = 0.1
    SLICE = 0.025

    def __init__(self, directory: str, allowance: int) -> None:
        self.fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
        baseline = measure(self.fd)
        self.active = baseline.complete
        self.limit = baseline.used + max(allowance, 0)
        self.current: _Pass | None = None
        self.next_check = time.monotonic() + self.MIN_INTERVAL

    def wait_seconds(self) -> float:
        """How long the caller may block before the next check is due."""
        return max(self.next_check - time.monotonic(), 0.0)

    def check(self) -> str | None:
        """None while the session is within its quota, else why the job must stop."""
        if not self.active or time.monotonic() < self.next_check:
            return None
        if self.current is None:
            self.current = _Pass(self.fd)
        current = self.current
        current.advance(self.SLICE)
        self.next_check = time.monotonic() + self.MIN_INTERVAL
        if current.total > self.limit:
            return self._stop(f"({current.total} bytes or more in use, {self.limit} allowed)")
        if current.done:
            self.current = None
            if not current.walk.complete and current.walk.too_deep:
                return self._stop(f"(its directories are nested deeper than {current.walk.max_depth} levels, "
                                  "so its usage cannot be counted)")
        return None

    @staticmethod
    def _stop(why: str) -> str:
        return f"DiskQuotaExceeded (ENOSPC): the session's files grew past its disk quota {why}; the job was stopped"

    def close(self) -> None:
        if self.current is not None:
            self.current.close()
            self.current = None
        os.close(self.fd)
