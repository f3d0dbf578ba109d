"""Runs in: the init, and a test-code case's tests' process (for its solution's process).

How a process of a case ended, turned into the case's status and error text: the one
table every kind of case uses, so a crash, an exhausted limit or an early exit reads the
same whichever path ran it. The rows are tried in order; the first that holds decides.

| how the process ended                                  | status         | error                                 |
|--------------------------------------------------------|----------------|---------------------------------------|
| a watch stopped it (the session's disk quota)          | `error`        | the watch's reason                    |
| its stdout passed the cap (a program case)             | `output_limit` | `OutputLimitExceeded: ...`            |
| past its wall-clock limit                              | `timeout`      | `Timeout`                             |
| past its CPU limit (`cpu_exhausted`)                   | `timeout`      | `Timeout`                             |
| killed by a signal or exited non-zero with a peak at   | `memory`       | `MemoryLimitExceeded: <what> <ended>  |
| its memory limit (`memory_exhausted`)                  |                | after using <N> MiB of its <M> MiB`   |
| exited non-zero on Python's uncaught `MemoryError`     | `memory`       | `MemoryLimitExceeded: <what> exited   |
| (a Python program's last line on stderr)               |                | with status <N> on Python's ...`      |
| killed by a signal                                     | `crashed`      | `Crashed: killed by signal <NAME>`    |
| exited without the result it owed                      | `error`        | `ProcessExit: <what> exited with      |
|                                                        |                | status <N>`                           |
| its end was never reported                             | `error`        | `ProcessExit: the end of <what> was   |
|                                                        |                | not reported`                         |

A program case adds the tail of the program's stderr to the error of the last five rows.
A function case whose code raises reports the exception itself (its `MemoryError` is
`memory` with the exception's text, as Python raised it); the rows above are for a case
whose process ended before it could report.

**Memory.** A unit's memory limit is its RLIMIT_AS (`execution.unit_limits`): past it an
allocation is refused, not killed, and how the program takes the refusal is its own
(Python raises `MemoryError`; a C program that writes through the NULL it got dies of
SIGSEGV; a shell says "Cannot allocate memory" and exits 2; C++ and Rust abort). So the
end alone says nothing, and what a program prints is no evidence (it could print
anything). The evidence is the kernel's: the peak resident memory it recorded for the
case's processes (wait4's `ru_maxrss`, or `VmHWM` read by the init), which no program
can raise but by holding that memory, counted past the peak the process was born with
(`Memory.start_kb`): a unit is a fork of the warm interpreter (the template), and the
kernel gives a fork its parent's peak and keeps a peak across `exec`, so a shell that
exits at once reports the interpreter's 20 MiB as its own. A process that ended
abnormally having taken at least `MEMORY_EVIDENCE` of its room (its limit; past that
start for a fork that runs on from it, whose limit counts the interpreter it started as)
ran out of memory: a refused allocation asks for more
than is left, and a buffer that grows by doubling asks for as much again as it holds, so
a program refused at its limit holds at least about half of it (a shell's doubling
variable was measured at 60%, a C program's 1 MiB mallocs at 99%). The sandbox's memory
cgroup is a backstop above every unit's limit, for the sandbox as a whole; a process its
OOM killer ends is judged by the same rule.
An allocation too large to ever fit (`malloc(1 << 40)`) is refused with nothing held:
then only Python's own report (its last stderr line, the table's second memory row) says
so, and a program in another language that exits on it reads as `error`.

Who decides whether a case *passed*, once its process ended well, by kind of case (the one
place this is written down; docs/architecture.md points here):

- function case, literal `output`: the init, from the value the unit reports against the
  literal the init parsed and kept (`evaluation`);
- function case, expression `output`: the unit, by its own `got == expected` (the expected
  value exists only in the solution's globals);
- program case (`stdin`/`stdout`): the init, from the program's stdout against the
  expected stdout it kept (`programs`, `compare`);
- test-code case (`tests`): the tests' process (a unit), from the tests' own asserts; the
  solution runs in a child of it (`testcode/judge`), and the init reads the tests' report;
- a case with a `checker`: the checker's unit, run after the case once every process of
  it is dead, from the case's input, output and answer; the init reads its exit status
  in testlib's protocol (`judges`);
- an interactive case (`interactor`): the interactor's unit, which talks with the program
  through the init (`interaction`); its exit status, read as a checker's, and a pass
  (or any credit) needs the program to have ended well too.
"""

from __future__ import annotations

import os
import signal
from dataclasses import dataclass

TIMEOUT = "Timeout"
OUTPUT_LIMIT = "OutputLimitExceeded"
MEMORY_LIMIT = "MemoryLimitExceeded"
MEMORY_EVIDENCE = 0.5  # the share of its memory limit an abnormally ended process must have held


@dataclass(frozen=True)
class Verdict:
    """A case's status and error text, as decided from how a process ended."""

    status: str
    error: str


@dataclass(frozen=True)
class Memory:
    """What the kernel recorded of a process's memory, against its limit (both KiB)."""

    peak_kb: int   # its peak resident memory (wait4's ru_maxrss, or VmHWM)
    limit_kb: int  # its memory limit (RLIMIT_AS)
    start_kb: int = 0  # the peak it was born with, which `peak_kb` includes but is not its own
    limited_from_start: bool = True  # its limit counts that start too (False: it exec'd a program)


def signal_name(signum: int) -> str:
    """The name of any signal a process can die of: real-time signals have no entry in
    `signal.Signals`, and are named as `kill -l` names them (`SIGRTMIN+6`)."""
    try:
        return signal.Signals(signum).name
    except ValueError:
        pass
    if signal.SIGRTMIN <= signum <= signal.SIGRTMAX:
        return f"SIGRTMIN+{signum - signal.SIGRTMIN}"
    return f"signal {signum}"


def cpu_exhausted(status: int | None, cpu_seconds: float, cpu_limit: float) -> bool:
    """The one CPU rule: SIGXCPU (the soft RLIMIT_CPU), more CPU than the limit (RLIMIT_CPU
    counts whole seconds, so a fractional limit is held here, however the process ended),
    or an unclean end at the limit (SIGKILL at the hard limit; a shell reports its child's
    SIGXCPU as an exit status)."""
    if status is None:
        return False
    if os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGXCPU:
        return True
    if cpu_seconds > cpu_limit:
        return True
    clean = os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0
    return not clean and cpu_seconds >= cpu_limit


def memory_exhausted(status: int | None, memory: Memory | None) -> bool:
    """The one memory rule (see the module's docstring): an abnormal end (a signal, or a
    non-zero exit) of a process whose peak passed the one it was born with
    (`Memory.start_kb`) and took `MEMORY_EVIDENCE` of its limit or more: of the room past
    that start for a process that runs on from it, of the whole limit for an exec'd
    program, whose address space (what RLIMIT_AS counts) started empty."""
    if status is None or memory is None or memory.limit_kb <= 0:
        return False
    if os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0:
        return False
    if memory.peak_kb <= memory.start_kb:
        return False
    base = memory.start_kb if memory.limited_from_start else 0
    return memory.peak_kb - base >= MEMORY_EVIDENCE * (memory.limit_kb - base)


def python_memory_error(stderr: str) -> bool:
    """Whether a Python program's last line on stderr is its uncaught `MemoryError`."""
    return stderr.rstrip().rpartition("\n")[2].startswith("MemoryError")


def of_limits(stopped: str | None, timed_out: bool, status: int | None, cpu_seconds: float,
              cpu_limit: float, output_over: str | None = None) -> Verdict | None:
    """The verdict of a process a limit ended (the first four rows), or None.

    Args:
        output_over: a program case whose stdout passed its cap: which process (`what`).
    """
    if stopped:
        return Verdict("error", stopped)
    if output_over is not None:
        return Verdict("output_limit", f"{OUTPUT_LIMIT}: the stdout of {output_over} passed the limit of "
                                       "the case or of the request")
    if timed_out or cpu_exhausted(status, cpu_seconds, cpu_limit):
        return Verdict("timeout", TIMEOUT)
    return None


def of_end(status: int | None, what: str, suffix: str = "", memory: Memory | None = None,
           memory_error: bool = False) -> Verdict:
    """The verdict of a process that ended without what it owed (the last five rows);
    `suffix` follows the exit status (e.g. " before returning").

    Args:
        memory: the kernel's record of its memory, when there is one to trust.
        memory_error: a Python program whose stderr ends with its `MemoryError`.
    """
    if status is None:
        return Verdict("error", f"ProcessExit: the end of {what} was not reported")
    if memory is not None and memory_exhausted(status, memory):
        return Verdict("memory", f"{MEMORY_LIMIT}: {what} {_ended(status)} after using {memory.peak_kb >> 10} "
                                 f"MiB of its {memory.limit_kb >> 10} MiB memory limit")
    if os.WIFSIGNALED(status):
        return crashed(os.WTERMSIG(status))
    if memory_error and os.WEXITSTATUS(status) != 0:
        return Verdict("memory", f"{MEMORY_LIMIT}: {what} {_ended(status)} on Python's MemoryError")
    return Verdict("error", f"ProcessExit: {what} exited with status {os.WEXITSTATUS(status)}{suffix}")


def _ended(status: int) -> str:
    if os.WIFSIGNALED(status):
        return f"was killed by signal {signal_name(os.WTERMSIG(status))}"
    return f"exited with status {os.WEXITSTATUS(status)}"


def crashed(signum: int) -> Verdict:
    return Verdict("crashed", f"Crashed: killed by signal {signal_name(signum)}")
