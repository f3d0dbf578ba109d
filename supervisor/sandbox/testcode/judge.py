"""Runs in: a test-code case: the tests' process (a unit) and the solution's process (its child).

A test-code case: the tests run in this process, the solution in a child of it.

The verdict of a test is whatever its tests' process says, so no code of the solution
may run in that process. Run in one process, a solution could write a passing report
itself, replace `check`, or return an object equal to everything. So the unit
(the unit) compiles the solution, makes itself not dumpable (its memory, descriptors
and /proc entries out of reach of a process of the same uid: ptrace is refused by the
seccomp filter anyway), and forks: the child closes the report pipe and runs the
solution's code, then serves the tests' operations (`remote`); the parent runs the
tests with proxies for the solution's globals. Only builtin values come back.

A signal from the solution can stop or kill this process, and so fail its own case,
never pass it: SIGINT is made fatal here, so it cannot arrive as KeyboardInterrupt
inside a test's `except`.

The report (`messages.CaseReport` with outcome "test") carries the test's own status.
"""

from __future__ import annotations

import builtins
import os
import resource
import signal
import socket
import sys
from typing import Any

from protocol import testplan
from supervisor.sandbox import function_case, libc, messages, values, verdicts
from supervisor.sandbox.confine import WORKDIR
from supervisor.sandbox.testcode import asserts, remote, unittests


class _Failure(Exception):  # noqa: N818 - not an error of ours: a test's outcome
    """The test failed or erred: `status` and the error text for the case."""

    def __init__(self, status: str, error: str) -> None:
        super().__init__(error)
        self.status = status
        self.error = error


def start(code_object: Any, stdout_limit: int, report_fd: int, cases_fd: int) -> Session:
    """Fork the solution's process before any test is read (so nothing of the tests, their
    expected values, is ever in its memory); the tests' end of it."""
    libc.prctl(libc.PR_SET_DUMPABLE, 0)
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    pid = os.fork()
    if pid == 0:
        _become_solution(ours, theirs, code_object, stdout_limit, report_fd, cases_fd)
    theirs.close()
    return Session(pid, ours, stdout_limit)


class Session:
    """The tests' end of a solution's process that serves the tests of one unit, one after
    another: each test gets the solution's module level run again in fresh globals. Once
    the solution's process is gone, the unit serves no more tests (`gone`): a new one,
    forked before it reads any test, takes the next."""

    def __init__(self, pid: int, sock: socket.socket, stdout_limit: int) -> None:
        self.pid = pid
        self.sock = sock
        self.stdout_limit = stdout_limit
        self.served = 0
        self.gone = False

    def run(self, message: messages.CaseMessage, entry_point: str) -> dict[str, Any]:
        """Run one test against the solution; the case report. Each test starts under
        Python's default int-to-str limit, as the tests' top-level statements before it
        (which run again) found it: a limit an earlier test set would otherwise bind this
        process's own parsing of the tests."""
        sys.set_int_max_str_digits(sys.int_info.default_max_str_digits)
        captured = function_case.CappedWriter(self.stdout_limit)
        report: dict[str, Any] = {"outcome": "test", "status": "error", "got": None, "expected": None, "error": None}
        sys.stdout, sys.stderr = captured, function_case.CappedWriter(0)
        channel = remote.Channel(self.sock, captured)
        try:
            _seal_imports()
            if message.test is None:
                raise ValueError("a test-code unit was sent a case without a test")
            report.update(_run_test(channel, message.tests, message.test, entry_point, first=not self.served))
        except remote.SolutionGone:
            pass
        finally:
            sys.stdout, sys.stderr = sys.__stdout__, sys.__stderr__
        self.served += 1
        if channel.gone:  # whatever the tests made of it (a bare `except:` takes it too)
            self.gone = True
            report.update(_solution_ended(self.pid))
            self.sock.close()
        report["stdout"] = captured.getvalue()
        return report


def _null_onto(fd: int) -> None:
    null = os.open(os.devnull, os.O_RDWR)
    os.dup2(null, fd)
    os.close(null)


def _become_solution(ours: socket.socket, theirs: socket.socket, code_object: Any, stdout_limit: int,
                     report_fd: int, tests_fd: int) -> None:
    """The child: nothing of the tests' process reachable (the pipe the tests are coming
    on, the report pipe), then the solution's server."""
    try:
        _null_onto(tests_fd)
        ours.close()
        os.close(report_fd)
        libc.prctl(libc.PR_SET_DUMPABLE, 1)  # an ordinary process to itself and its children
        signal.signal(signal.SIGINT, signal.default_int_handler)
        remote.serve_solution(theirs, code_object, stdout_limit)
    finally:
        os._exit(0)


def _seal_imports() -> None:
    """Import only from directories the sandbox user cannot write nor make writable (not
    its own): the solution runs beside the tests and could plant a module in the session,
    in /tmp, or in a directory it creates on the path."""
    uid = os.geteuid()
    root = uid == 0  # insecure mode without a uid to switch to: nothing is unwritable

    def sealed(path: str) -> bool:
        if not path or not os.path.isabs(path) or path.startswith((WORKDIR, "/tmp", os.getcwd())):
            return False
        try:
            owner = os.stat(path).st_uid
        except OSError:
            return False
        return root or (owner != uid and not os.access(path, os.W_OK))
    sys.path[:] = [p for p in sys.path if sealed(p)]
    sys.path_importer_cache.clear()


def _run_test(channel: remote.Channel, tests: str, test: testplan.PlannedTest, entry_point: str,
              first: bool) -> dict[str, Any]:
    """Run the test; its status and error. Names the tests use and do not define are the
    solution's globals of those names (`_taken`), never a dunder name (the asserts' own
    helpers among them: a solution's `__repl_compare__` would pass every assert)."""
    prepared = asserts.prepare(tests, test)
    try:
        # The solution's code has run (or its error is raised here); for a later test, again.
        channel.request(None if first else {"op": "reset"})
        wanted = [n for n in prepared.global_names if not n.startswith("__")]
        found = channel.lookup(wanted)
        # what the tests may be testing: asked only when no entry point says it
        under_test = frozenset() if entry_point.strip() else prepared.loaded_globals() - channel.modules
        namespace = {**_taken(found, entry_point, under_test), **asserts.new_namespace(prepared.explainer)}
        candidate = channel.entry(entry_point) if test.kind == "check" else None
        exec(prepared.code, namespace)  # noqa: S102 - the tests, in the sandbox
        if test.kind == "check":
            namespace["check"](candidate)
        elif test.kind == "unittest":
            _run_unittest(namespace, test)
    except AssertionError as exc:
        return _assertion(exc, prepared.explainer)
    except _Failure as failure:
        return {"status": failure.status, "error": failure.error}
    except remote.SolutionGone:
        raise
    except MemoryError as exc:
        return {"status": "memory", "error": _error_text(exc)}
    except BaseException as exc:  # noqa: BLE001 - any exception of a test is its case's error
        return {"status": "error", "error": _error_text(exc)}
    return {"status": "passed"}


def _taken(found: dict[str, Any], entry_point: str, under_test: frozenset[str]) -> dict[str, Any]:
    """Which of the solution's globals the tests get, of those `found` under the names they
    use: every one not named like a builtin; one named like a builtin only when it is the
    function under test, as in `exec(code + tests)` (MBPP 126 defines `sum(a, b)`): the
    entry point, or, with no entry point given (`entry_point` empty), when the tests read
    no other global of the solution but its modules (`under_test`: the names they read as
    globals, modules left out). Otherwise the builtin: a solution's `sorted` or
    `isinstance` must not stand in for the one the tests apply to the function's answer."""
    own = {name: value for name, value in found.items() if not hasattr(builtins, name)}
    name = entry_point.strip()  # empty: none given
    if not name:
        return own if own.keys() & under_test else {**found, **own}
    return {**own, name: found[name]} if name in found else own


def _assertion(exc: AssertionError, explainer: asserts.Explainer) -> dict[str, Any]:
    """A failed test: its values compared, when a rewritten assert failed."""
    result: dict[str, Any] = {"status": "failed", "error": _error_text(exc)}
    if explainer.compared:
        result.update(got=values.encode(explainer.left), expected=values.encode(explainer.right))
    return result


_UNITTEST_DIR = os.path.join(os.path.dirname(os.__file__), "unittest") + os.sep  # frames hidden from errors


def _error_text(exc: BaseException) -> str:
    """The error, and where it came from in the solution when it is the solution's."""
    text = function_case.format_error(exc, hidden=(_UNITTEST_DIR,))
    inner = getattr(exc, "solution_error", "")
    if inner:
        text += "\nRaised in the solution:\n" + inner
    return text


def _run_unittest(namespace: dict[str, Any], test: testplan.PlannedTest) -> None:
    outcome = unittests.run_one(namespace, test.test_class, test.method)
    if outcome is None:
        return
    status, problem = outcome
    if isinstance(problem, remote.SolutionGone):
        raise problem
    raise _Failure(status, problem if isinstance(problem, str) else _error_text(problem))


def _solution_ended(pid: int) -> dict[str, Any]:
    """The solution's process is gone: how it ended, as the case's status (`verdicts`,
    against the CPU limit this process and its child were both given)."""
    try:
        _, status, usage = os.wait4(pid, 0)
    except ChildProcessError:
        return {"status": "error", "error": "SolutionExit: the solution's process ended"}
    cpu_limit = resource.getrlimit(resource.RLIMIT_CPU)[0]
    limit = verdicts.of_limits(None, False, status, usage.ru_utime + usage.ru_stime,
                               float("inf") if cpu_limit == resource.RLIM_INFINITY else cpu_limit)
    memory_limit = resource.getrlimit(resource.RLIMIT_AS)[0]  # the solution's too: it is a fork of this process
    born = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # the peak the fork inherited, at most
    memory = (None if memory_limit == resource.RLIM_INFINITY
              else verdicts.Memory(usage.ru_maxrss, memory_limit >> 10, start_kb=born))
    verdict = limit or verdicts.of_end(status, "the solution's process", memory=memory)
    return {"status": verdict.status, "error": verdict.error}
