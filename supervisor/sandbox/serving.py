"""Runs in: the init.

A unit that serves the function cases or tests of one evaluation one after another
(docs/api.md §4, isolation), as the init drives it: a case message on the unit's stdin,
its report on the report pipe, the case's limits enforced from here.

- `isolation: "request"`: the unit runs each case itself, the module level again each
  time. Between two cases the init checks that the case left nothing running (no other
  thread, no other process), that the unit has not grown past half of what its memory
  limit leaves, and gives /tmp back empty if the case wrote to it. A case that fails a
  check, or that crashed, hung, ran out of memory or CPU, or exited, ends the unit after
  its verdict; the next case gets a new unit.
- `isolation: "case"`: the unit runs the module level once; each case runs in a fork of
  it, which stops itself after its report so the init can read what it used, and is
  then killed; the unit then reports how its fork ended (`ended`) and takes the next.

What one case used is read from /proc (`meter`): its CPU time before and after (every
process of the case counted, the unit's reaped children included), its peak memory; the
case's processes are found from the unit's process tree, and the whole pid namespace is
read when that tree shows anything the case left behind (`meter.case_group`). Its
wall-clock limit and CPU limit are enforced from here; the unit's own soft RLIMIT_CPU,
set per case by the unit, is only a first line. Every report carries the token of the
message it answers, so nothing a case leaves in the pipe can stand for a later case's.
"""

from __future__ import annotations

import dataclasses
import fcntl
import os
import secrets
import select
import struct
import termios
import time
from dataclasses import dataclass

from supervisor.sandbox import execution, frames, hygiene, messages, meter, template, watch
from supervisor.sandbox.execution import Execution

MEMORY_GROWTH = 0.5     # a unit grown by this share of what its limit left is replaced
END_REPORT_TIMEOUT = 2.0  # how long a "case" unit may take to say how its fork ended


@dataclass
class Served:
    """One case's run, as the init saw it."""

    report: messages.CaseReport | None  # None: no readable report for this case
    garbled: bool                       # something unreadable came instead
    truncated: bool                     # the report passed the case's or the request's limit
    used: int                           # bytes of report, against the request's budget
    outcome: watch.Outcome
    ended: messages.Exit                # how the case's process ended (status 0: it is alive and well)


class CaseServer:
    """The init's handle on a unit serving cases: started on first use, ended when a case
    must not be followed by another in the same process."""

    def __init__(self, job: messages.EvaluateJob, ex: Execution, cases: int, tests: bool) -> None:
        self.job = job
        self.ex = ex
        self.cases = cases
        self.tests = tests  # a test-code unit: the tests here, the solution in its child
        # A test-code unit in "case" isolation is ended after each test instead (`run`);
        # so is every unit without a sandbox's own namespaces (insecure mode), where what
        # a case leaves cannot be found and killed but as the unit's process group.
        self.isolation = "request" if tests or ex.config.insecure else job.isolation
        self.forked: template.UnitHandle | None = None
        self.pid = 0
        self.pidfd = -1
        self.start_size_kb = 0
        self.last_token = ""

    @property
    def _only(self) -> int | None:
        """Insecure mode: /proc is the host's, so only the unit itself is read."""
        return self.pid if self.ex.config.insecure else None

    def _group(self, protect: frozenset[int]) -> meter.Group:
        if self._only is not None or not self.ex.base.alive:
            return meter.group(protect, self._only)
        most = 2 if self.isolation == "case" or self.tests else 1  # the unit, and its fork or solution
        return meter.case_group(protect, self.pid, self.ex.base.pid, most)

    @property
    def protect(self) -> frozenset[int]:
        return self.ex.base.protected() if self.ex.base.alive else frozenset()

    def _start(self) -> None:
        limits = execution.unit_limits(self.job.cpu, self.job.memory_mb, self.job.fsize)
        total = limits.cpu_seconds * max(self.cases, 1) + 1  # the unit's CPU backstop over all its cases
        unit = messages.CaseUnit(code=self.job.code, entry_point=self.job.entry_point,
                                 stdout_limit=self.job.stdout_limit,
                                 limits=messages.UnitLimits(limits.cpu_seconds, limits.memory_bytes,
                                                            limits.max_file_bytes, cpu_hard_seconds=total),
                                 cwd=self.ex.cwd, float_tolerance=self.job.float_tolerance,
                                 isolation=self.isolation, tests=self.tests)
        self.forked = self.ex.base.fork(unit)
        self.pid = self.ex.base.pid_of(self.forked.seq)
        self.pidfd = os.pidfd_open(self.pid)
        self.last_token = ""
        os.set_blocking(self.forked.report, False)
        os.set_blocking(self.forked.stdin, False)
        self.start_size_kb = 0

    def run(self, message: messages.CaseMessage, budget: int, retried: bool = False) -> Served:
        """Run one case; afterwards the unit is either ready for the next or ended."""
        if self.forked is not None and _stale(self.forked.report, self.pidfd):
            # Something of the last case came after its report: that process serves no more.
            self.end()
            self.ex.clean()
        if self.forked is None:
            self._start()
        assert self.forked is not None  # noqa: S101 - started just above
        message = dataclasses.replace(message, token=secrets.token_hex(8))
        protect = self.protect
        before = self._group(protect)
        for pid in before.pids:
            meter.reset_peak(pid)
        capture = watch.Capture(self.forked.report, max(min(RESULT_LIMIT, budget), 0))
        conversation = _Conversation(capture, message.token, with_end=self.isolation == "case",
                                     stale=self.last_token)
        self.last_token = message.token
        started = time.monotonic()
        cpu_watch = meter.CpuWatch(protect, before.cpu, self.job.cpu, started, self._only)
        sent = frames.encode(messages.to_wire(message))
        exchanged = watch.exchange(self.pidfd, capture, self.forked.stdin, sent, started + self.job.timeout,
                                   conversation.done, watch.combine(self.ex.quota, cpu_watch), started)
        conversation.done()
        untaken = exchanged.unsent or (exchanged.exited and not capture.data
                                       and not _consumed(self.forked.stdin, len(sent)))
        if untaken and not retried:
            # The unit died before it took this case (the last one ended it after its
            # report): the case was never run, so it runs in a new unit.
            self.end()
            self.ex.clean()
            return self.run(message, budget, retried=True)
        outcome = watch.Outcome(exchanged.timed_out, exchanged.duration_ms, exchanged.stopped)
        used = 0 if capture.truncated else len(capture.data)
        after = self._group(protect)
        keep = (conversation.report is not None and not conversation.garbled and not conversation.trailing
                and not exchanged.exited and not exchanged.timed_out and not exchanged.stopped and capture.open)
        left = after  # what is still running once the case is over
        if keep and self.isolation == "case":
            crashed = conversation.report is not None and conversation.report.outcome == "ended"
            keep = crashed or conversation.ended or self._end_fork(protect, conversation.token, after)
            left = self._group(protect)
            if crashed or conversation.ended:
                after = left  # the fork is reaped: its CPU is the unit's children's now
        if keep:
            keep = self._may_serve_again(conversation.report, left)
        cpu = after.cpu.since(before.cpu)
        ended = messages.Exit(status=0, cpu_seconds=cpu, maxrss_kb=after.peak_kb)
        if not keep or (self.tests and self.job.isolation == "case"):
            ended = self.end(before)
            ended = dataclasses.replace(ended, cpu_seconds=max(cpu, ended.cpu_seconds),
                                        maxrss_kb=max(after.peak_kb, ended.maxrss_kb))
        return Served(conversation.report, conversation.garbled, capture.truncated, used, outcome, ended)

    def _end_fork(self, protect: frozenset[int], token: str, after: meter.Group) -> bool:
        """`isolation: "case"`: kill the case's fork (it stopped itself after its report)
        and wait for the unit's word that it has reaped it; False if the unit is unfit.
        When the tree showed the unit and its fork alone (`after`), only the fork is
        killed: what it may have started since is reparented to this init as it dies, and
        the reading that follows (`left`) finds it and ends the unit."""
        if after.walked and len(after.pids) == 2 and after.pids[0] == self.pid:
            hygiene.kill_one(after.pids[1])
        else:
            hygiene.kill_others(protect | {self.pid})
        assert self.forked is not None  # noqa: S101
        capture = watch.Capture(self.forked.report, RESULT_LIMIT)
        end = _Conversation(capture, token)
        exchanged = watch.exchange(self.pidfd, capture, self.forked.stdin, b"",
                                   time.monotonic() + END_REPORT_TIMEOUT, end.done, None, time.monotonic())
        end.done()
        return (end.report is not None and not end.garbled and not exchanged.exited
                and end.report.outcome == "ended")

    def _may_serve_again(self, report: messages.CaseReport | None, left: meter.Group) -> bool:
        """Nothing of the case left running, and the unit still fit for another case."""
        if self.ex.config.insecure:
            return False  # nothing of the sandbox is its own: /proc, /tmp are the host's
        if report is None or report.outcome in ("memory", "compile_error"):
            return False
        if str(report.error or "").startswith("SystemExit"):
            return False
        allowed = 2 if self.tests else 1  # the unit, and a test-code unit's solution
        if len(left.pids) > allowed:
            return False
        state = meter.status(self.pid)
        if state is None or state.threads != 1:
            return False
        if not self.start_size_kb:
            self.start_size_kb = state.size_kb
        room = (self.job.memory_mb << 10) - self.start_size_kb
        if state.size_kb - self.start_size_kb > MEMORY_GROWTH * room:
            return False
        self.ex.scratch.refresh()  # /tmp and /dev/shm empty again if the case wrote there
        return True

    def end(self, before: meter.Group | None = None) -> messages.Exit:
        """End the unit and everything it started; how it ended, with the CPU time it used
        since `before` (its whole life when the template's report is all there is)."""
        if self.forked is None:
            return messages.Exit(status=None)
        forked, self.forked = self.forked, None
        try:
            self.ex.stopper(self.pid)(self.pidfd)
        finally:
            os.close(self.pidfd)
            self.pidfd = -1
            for fd in (forked.stdin, forked.report):
                try:
                    os.close(fd)
                except OSError:
                    pass
        ended = self.ex.ended(self.ex.base, forked.seq)
        if before is not None and ended.status is not None:
            ended = dataclasses.replace(ended, cpu_seconds=max(ended.cpu_seconds - before.total, 0.0))
        return ended


RESULT_LIMIT = 32 << 20  # bytes of report one case may send


def _token_of(data: object) -> object:
    return data.get("token") if isinstance(data, dict) else None


def _stale(report_fd: int, pidfd: int) -> bool:
    """Whether the unit is gone, or bytes wait on its report pipe, before a case was even
    sent: something of the last case came after its report."""
    return bool(select.select([report_fd, pidfd], [], [], 0)[0])


def _consumed(stdin_fd: int, sent: int) -> bool:
    """Whether the unit read (some of) the case's message from its stdin pipe."""
    try:
        waiting = struct.unpack("i", fcntl.ioctl(stdin_fd, termios.FIONREAD, b"\0\0\0\0"))[0]
    except OSError:
        return True
    return waiting < sent


class _Conversation:
    """The case's report as it arrives: the first frame, which must answer this case (its
    token). With `with_end` (isolation "case"), the unit's `ended` frame may follow it,
    or come alone (the fork died without a report). Anything else after the report is
    `trailing`: the report stands, but that process serves no further case."""

    def __init__(self, capture: watch.Capture, token: str, with_end: bool = False, stale: str = "") -> None:
        self.capture = capture
        self.token = token
        self.with_end = with_end
        self.stale = stale  # the token of the last case: its frames that come late are skipped
        self.report: messages.CaseReport | None = None
        self.ended = False     # the unit's `ended` frame came after the report
        self.trailing = False  # something else came after the report
        self.garbled = False

    def done(self) -> bool:
        if self.garbled:
            return True
        try:
            first = frames.first_frame(self.capture.data)
            while first is not None and self.stale and _token_of(first[0]) == self.stale:
                del self.capture.data[:first[1]]  # what the last case left: never this one's report
                self.trailing = True
                first = frames.first_frame(self.capture.data)
            if first is None:
                return False
            self.report = self._answer(first[0])
        except Exception:  # noqa: BLE001 - anything the unit wrote: a garbled report
            self.garbled, self.report = True, None
            return True
        rest = bytes(self.capture.data[first[1]:])
        self.ended = False
        if rest:
            try:
                second = frames.first_frame(rest)
                self.ended = (self.with_end and second is not None and second[1] == len(rest)
                              and self.report.outcome != "ended" and self._answer(second[0]).outcome == "ended")
            except Exception:  # noqa: BLE001
                self.ended = False
            self.trailing = self.trailing or not self.ended
        return True

    def _answer(self, data: object) -> messages.CaseReport:
        report = messages.from_wire(messages.CaseReport, data)
        if report.token != self.token:
            raise ValueError("a report that does not answer this case")
        return report
