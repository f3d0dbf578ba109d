"""Runs in: the init, and a test-code case's tests' process (for its solution's process).

How a process of a case ended, turned into the case's status and error text: the one
table every kind of case uses, so a crash, an exhausted limit or an early exit reads the
same whichever path ran it.

| how the process ended                           | status    | error                                  |
|-------------------------------------------------|-----------|----------------------------------------|
| a watch stopped it (the session's disk quota)   | `error`   | the watch's reason                     |
| past its wall-clock limit                       | `timeout` | `Timeout`                              |
| past its CPU limit (`cpu_exhausted`)            | `timeout` | `Timeout`                              |
| killed by a signal                              | `crashed` | `Crashed: killed by signal <NAME>`     |
| exited without the result it owed              | `error`   | `ProcessExit: <what> exited with status <N>` |
| its end was never reported                      | `error`   | `ProcessExit: the end of <what> was not reported` |

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
  needs the program to have ended well too.
"""

from __future__ import annotations

import os
import signal
from dataclasses import dataclass

TIMEOUT = "Timeout"


@dataclass(frozen=True)
class Verdict:
    """A case's status and error text, as decided from how a process ended."""

    status: str
    error: str


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


def of_limits(stopped: str | None, timed_out: bool, status: int | None, cpu_seconds: float,
              cpu_limit: float) -> Verdict | None:
    """The verdict of a process a limit ended (the first three rows), or None."""
    if stopped:
        return Verdict("error", stopped)
    if timed_out or cpu_exhausted(status, cpu_seconds, cpu_limit):
        return Verdict("timeout", TIMEOUT)
    return None


def of_end(status: int | None, what: str, suffix: str = "") -> Verdict:
    """The verdict of a process that ended without what it owed (the last three rows);
    `suffix` follows the exit status (e.g. " before returning")."""
    if status is None:
        return Verdict("error", f"ProcessExit: the end of {what} was not reported")
    if os.WIFSIGNALED(status):
        return crashed(os.WTERMSIG(status))
    return Verdict("error", f"ProcessExit: {what} exited with status {os.WEXITSTATUS(status)}{suffix}")


def crashed(signum: int) -> Verdict:
    return Verdict("crashed", f"Crashed: killed by signal {signal_name(signum)}")
