"""Runs in: the init.

One job's execution: what its units run with (the sandbox's settings, its template, its
scratch mounts, the session directory and the watch on its disk quota), how one unit is
forked, watched and stopped, and how the sandbox is restored between two units. The
init's job loop (`init`) makes one per job; the paths that run cases and commands
(`init.run_command`, `evaluation`, `programs`) only ask it to run units.
"""

from __future__ import annotations

import math
import os
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass

from supervisor.sandbox import confine, hygiene, messages, meter, template, watch
from supervisor.sandbox.usage import DiskWatch

EXIT_REPORT_TIMEOUT = 2.0  # how long the template may take to report a unit's end


@dataclass(frozen=True)
class SandboxConfig:
    """Fixed for the life of the zygote; sent by the supervisor when it starts it."""

    uid: int
    insecure: bool
    session_root: str
    tmp_size_mb: int
    max_processes: int
    max_open_files: int
    cap_last: int
    environment: dict[str, str]
    max_jobs: int = 1000  # a sandbox is replaced after this many jobs, however clean it looks

    @property
    def unit_uid(self) -> int | None:
        """None: units keep the supervisor's uid (insecure mode without the privilege to
        switch uids)."""
        return None if self.insecure and not confine.can_switch_uid() else self.uid

    @property
    def template_uid(self) -> int:
        """The template's real and saved uid: the one after the sandbox uid."""
        return self.uid + 1

    def unit_identity(self) -> confine.UnitIdentity:
        return confine.UnitIdentity(uid=self.unit_uid, max_processes=self.max_processes,
                                    environment=self.environment)


@dataclass
class Ran:
    """How one unit that uses stdio (a command, a program case) ended, as the init saw it."""

    stdout: bytes
    stderr: bytes
    stdout_truncated: bool
    stderr_truncated: bool
    outcome: watch.Outcome
    ended: messages.Exit


def unit_limits(cpu: float, memory_mb: int, fsize: int) -> messages.UnitLimits:
    """The rlimits of a unit: RLIMIT_CPU counts whole seconds (a fractional limit is held by
    `verdicts.cpu_exhausted`)."""
    return messages.UnitLimits(cpu_seconds=max(1, math.ceil(cpu)), memory_bytes=memory_mb << 20,
                               max_file_bytes=max(fsize, 0))


def clean_between_units(config: SandboxConfig, scratch: hygiene.Scratch, *templates: template.Handle,
                        killed: bool = False) -> None:
    """Restore a fresh state between two units (nothing to do without namespaces: there
    the units' process groups are all that can be cleaned, and `stopper` kills them)."""
    if config.insecure:
        return
    protect = frozenset().union(*(t.protected() for t in templates if t.alive))
    reaped = hygiene.reset(scratch, protect, killed)
    hygiene.take_orphan_usage()  # a unit's orphans are counted at its end (`Execution.ended`), not here
    for handle in templates:
        if handle.pid in reaped:
            handle.close()


def stopper(config: SandboxConfig, pid: int, *templates: template.Handle) -> Callable[[int | None], None]:
    """What kills a unit and everything it started, sparing the templates (given the
    unit's pidfd, if there is one, to wait on)."""
    protect = frozenset().union(*(t.protected() for t in templates))

    def kill_others(pidfd: int | None) -> None:
        hygiene.kill_others(protect, exiting=pidfd)

    if not config.insecure:
        return kill_others

    def kill_group(pidfd: int | None) -> None:
        try:
            os.killpg(pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
    return kill_group


@dataclass
class Execution:
    """The units of one job: where they run, from which template, under which watch."""

    config: SandboxConfig
    base: template.Handle
    scratch: hygiene.Scratch
    cwd: str
    quota: DiskWatch | None = None

    def clean(self) -> None:
        """Between two units of the job (the last one's processes are dead already)."""
        clean_between_units(self.config, self.scratch, self.base, killed=True)

    def stopper(self, pid: int) -> Callable[[int | None], None]:
        return stopper(self.config, pid, self.base)

    def run_stdio(self, unit: messages.RunUnit | messages.ExecUnit | messages.ProgramUnit | messages.CheckerUnit,
                  stdin: bytes, limits: tuple[int, int], timeout: float, drain: bool = False) -> Ran:
        """Fork a unit that uses stdio (a command or a program), feed its stdin, collect its
        stdout and stderr (each up to its limit) until it ends or `timeout` passes, and learn
        how it ended. Everything it started is dead when this returns.

        Args:
            drain: read past the limits, dropping the rest (`watch.Capture`), so that output
                beyond them is no reason for the unit to end.
        """
        started = time.monotonic()
        forked = self.base.fork(unit)
        pid = self.base.pid_of(forked.seq)
        captures = [watch.Capture(forked.stdout, limits[0], drain=drain),
                    watch.Capture(forked.stderr, limits[1], drain=drain)]
        outcome = watch.supervise(pid, captures, started + timeout, self.stopper(pid),
                                  stdin=(forked.stdin, stdin), watch=self.quota, started=started)
        if isinstance(unit, (messages.ExecUnit, messages.ProgramUnit, messages.CheckerUnit)):
            ended = self.ended(self.base, forked.seq)
        else:  # a command's CPU time and memory are its main process's (docs/api.md §5)
            ended = self.base.wait_exit(forked.seq, EXIT_REPORT_TIMEOUT)
        return Ran(stdout=bytes(captures[0].data), stderr=bytes(captures[1].data),
                   stdout_truncated=captures[0].truncated, stderr_truncated=captures[1].truncated,
                   outcome=outcome, ended=ended)

    def ended(self, handle: template.Handle, seq: int) -> messages.Exit:
        """How the case's unit of fork `seq` (forked by `handle`) ended, its CPU time and
        peak memory counting what it started and left behind: by now every one is dead
        (`stopper`) and, its parent gone, a child of this init, reaped here (a test-code
        case's solution killed at the deadline with its tests' process; a program's child)."""
        ended = handle.wait_exit(seq, EXIT_REPORT_TIMEOUT)
        hygiene.reap_orphans()
        cpu_seconds, maxrss_kb = hygiene.take_orphan_usage()
        if ended.status is None:
            return ended
        template_peak = meter.status(handle.pid)  # every fork of it starts with this peak
        return messages.Exit(status=ended.status, cpu_seconds=ended.cpu_seconds + cpu_seconds,
                             maxrss_kb=max(ended.maxrss_kb, maxrss_kb),
                             start_kb=template_peak.peak_kb if template_peak is not None else 0)

    def close(self) -> None:
        if self.quota is not None:
            self.quota.close()
            self.quota = None
