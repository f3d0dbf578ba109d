"""The sandbox's init: one per pre-forked sandbox, one job, then exit.

Forked by the zygote as pid 1 of a fresh pid namespace. It confines itself (namespaces,
/proc, /tmp), reports ready, waits for one job from the supervisor, binds the job's
session, runs the job's units one after another (each in its own unprivileged worker,
the first one forked and confined before the job arrived), reports the result and exits,
which tears the whole namespace down. It never runs user code itself and stays the only
privileged process in the sandbox.
"""

from __future__ import annotations

import json
import math
import os
import resource
import signal
import socket
import time
from dataclasses import dataclass
from typing import Any

from supervisor.sandbox import confine, frames, units
from supervisor.sandbox.usage import disk_usage

RESULT_LIMIT = 32 << 20
PREPARE_NICE = 10  # the priority sandboxes are prepared at, before their job
EXIT_WITHOUT_RESULT = 121


@dataclass(frozen=True)
class SandboxConfig:
    """Fixed for the life of the zygote; sent by the supervisor when it starts it."""

    uid: int
    insecure: bool
    session_root: str
    tmp_size_mb: int
    max_processes: int
    max_open_files: int
    ceiling_cpu_seconds: int
    ceiling_memory_mb: int
    cap_last: int
    environment: dict[str, str]

    @property
    def whole_namespace(self) -> bool:
        return not self.insecure

    def identity(self) -> units.Identity:
        ceiling = confine.Limits(
            cpu_seconds=self.ceiling_cpu_seconds,
            memory_bytes=self.ceiling_memory_mb << 20,
            max_processes=self.max_processes,
            max_file_bytes=resource.RLIM_INFINITY,
            max_open_files=self.max_open_files,
        )
        uid = None if self.insecure and os.geteuid() != 0 else self.uid
        return units.Identity(uid=uid, cap_last=self.cap_last, ceiling=ceiling,
                              whole_namespace=self.whole_namespace, environment=self.environment)


def serve(sock: socket.socket, root_fd: int, config: SandboxConfig) -> None:
    """Run the sandbox's life: confine, prepare a worker, report ready, take one job,
    report, exit."""
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    try:
        if not config.insecure:
            confine.enter_namespaces(config.tmp_size_mb)
        first = units.prepare(config.identity())
        frames.send(sock, {"ready": True})
    except Exception as exc:  # noqa: BLE001 - reported to the supervisor, which logs it
        frames.send(sock, {"ready": False, "error": f"{type(exc).__name__}: {exc}"})
        os._exit(1)
    job = frames.recv(sock)
    if job is None:
        os._exit(0)
    if os.geteuid() == 0:  # raising a priority needs privilege; the worker has none left
        for pid in (0, first.pid):
            os.setpriority(os.PRIO_PROCESS, pid, 0)
    cwd = None
    try:
        cwd = enter_session(job, root_fd, config)
        reply: dict[str, Any] = {"ok": True, "body": run_job(job, config, cwd, first)}
    except Exception as exc:  # noqa: BLE001 - a failure of ours, not of user code
        reply = {"ok": False, "error": f"{type(exc).__name__}: {exc}"}
    frames.send(sock, reply)
    if cwd is not None and job.get("measure_usage"):
        # After the reply, so the client does not wait for the walk: the supervisor takes
        # the session's new disk usage as a second frame.
        fd = os.open(cwd, os.O_RDONLY | os.O_DIRECTORY)
        frames.send(sock, {"usage": disk_usage(fd)})
    os._exit(0)


def enter_session(job: dict[str, Any], root_fd: int, config: SandboxConfig) -> str:
    """Make the job's session the workers' working directory; return its path."""
    session = job.get("session")
    os.close(root_fd)
    if config.insecure:
        # Without namespaces the supervisor always names a directory, a scratch one if need be.
        return os.path.join(config.session_root, session)
    confine.bind_session(session, job.get("scratch_mb", 64))
    return confine.WORKDIR


def run_job(job: dict[str, Any], config: SandboxConfig, cwd: str, first: units.Worker) -> dict[str, Any]:
    if job["kind"] == "run":
        return run_command(job, config, cwd, first)
    return run_evaluation(job, config, cwd, first)


def _limits(cpu: float, memory_mb: int, fsize: int) -> dict[str, int]:
    return {"cpu_seconds": max(1, math.ceil(cpu)), "memory_bytes": memory_mb << 20,
            "max_file_bytes": max(fsize, 0)}


# --- /run ------------------------------------------------------------------------------

def run_command(job: dict[str, Any], config: SandboxConfig, cwd: str, worker: units.Worker) -> dict[str, Any]:
    timeout = float(job["timeout"])
    os.close(worker.result)
    units.start(worker, {"kind": "run", "cwd": cwd, "cmd": job["cmd"],
                         "limits": _limits(timeout + 1, job["memory_mb"], job["fsize"])})
    limit = job["output_limit"]
    captures = [units.Capture(worker.stdout, limit), units.Capture(worker.stderr, limit)]
    stdin = (job.get("stdin") or "").encode()
    watch = _disk_watch(job, cwd)
    outcome = units.supervise(worker.pid, config.whole_namespace, captures, time.monotonic() + timeout,
                              (worker.stdin, stdin), watch=watch)
    stderr = captures[1].data.decode("utf-8", "replace")
    if outcome.stopped:
        stderr += ("" if not stderr or stderr.endswith("\n") else "\n") + outcome.stopped + "\n"
    return {
        "stdout": captures[0].data.decode("utf-8", "replace"),
        "stderr": stderr,
        "exit_code": _exit_code(outcome.status),
        "timed_out": outcome.timed_out,
        "truncated": captures[0].truncated or captures[1].truncated,
        "duration_ms": round(outcome.duration_ms, 3),
    }


def _disk_watch(job: dict[str, Any], cwd: str) -> confine.DiskWatch | None:
    """Watch the session's disk usage while user code runs (scratch directories are tmpfs,
    bounded by their size)."""
    return confine.DiskWatch(cwd, job["fsize"]) if job.get("measure_usage") else None


def _exit_code(status: int | None) -> int:
    if status is None:
        return -signal.SIGKILL
    if os.WIFSIGNALED(status):
        return -os.WTERMSIG(status)
    return os.WEXITSTATUS(status)


# --- /evaluate_code --------------------------------------------------------------------

def run_evaluation(job: dict[str, Any], config: SandboxConfig, cwd: str, first: units.Worker) -> dict[str, Any]:
    """Run the cases one after another, each in a worker of its own. The first worker was
    prepared before the job came; each later one is forked once the previous case and
    everything it started are gone."""
    cases = job["cases"] or [None]  # with no case, still compile once to report a SyntaxError
    results: list[dict[str, Any]] = []
    compile_error: str | None = None
    worker = first
    watch = _disk_watch(job, cwd)
    for index, case in enumerate(cases):
        if worker is None:
            units.reap_finished()
            worker = units.prepare(config.identity(), warm_up=False)
        last = index == len(cases) - 1
        result = run_case(job, config, cwd, worker, case, last, watch)
        worker = None
        if "compile_error" in result:
            compile_error = result["compile_error"]
            break
        if case is not None:
            results.append({"case": index, "input": case["input"], **result})
    if compile_error is not None:
        results = [_compile_failure(i, c, compile_error) for i, c in enumerate(job["cases"])]
    passed = compile_error is None and all(r["passed"] for r in results)
    return {"passed": passed, "case_results": results, "error": compile_error}


def _compile_failure(index: int, case: dict[str, str], error: str) -> dict[str, Any]:
    return {"case": index, "input": case["input"], "passed": False, "got": None, "expected": None,
            "error": error, "status": "error", "stdout": "", "duration_ms": 0.0}


def run_case(job: dict[str, Any], config: SandboxConfig, cwd: str, worker: units.Worker,
             case: dict[str, str] | None, last: bool, watch: confine.DiskWatch | None = None) -> dict[str, Any]:
    """Run one case in `worker` and turn however it ended into a case result.

    The killed processes of a case are not waited for: the next case starts while they
    are torn down, and after the last one the sandbox reports and exits at once, its exit
    (as init of the pid namespace) taking every remaining process with it.
    """
    for fd in (worker.stdin, worker.stdout, worker.stderr):
        os.close(fd)  # a case's stdio goes to /dev/null; what it prints is captured in-process
    units.start(worker, {"kind": "case", "cwd": cwd, "code": job["code"], "entry_point": job["entry_point"],
                         "case": case, "stdout_limit": job["stdout_limit"],
                         "limits": _limits(job["cpu"], job["memory_mb"], job["fsize"])})
    capture = units.Capture(worker.result, RESULT_LIMIT)
    outcome = units.supervise(worker.pid, config.whole_namespace, [capture],
                              time.monotonic() + float(job["timeout"]), finish_on_result=True,
                              reap=config.insecure, watch=watch)
    if outcome.stopped:
        result = {"passed": False, "got": None, "expected": None, "stdout": "", "status": "error",
                  "error": outcome.stopped}
    else:
        result = _interpret(outcome, capture, job)
    result["duration_ms"] = round(outcome.duration_ms, 3)
    return result


def _interpret(outcome: units.Outcome, capture: units.Capture, job: dict[str, Any]) -> dict[str, Any]:
    base = {"passed": False, "got": None, "expected": None, "stdout": ""}
    if outcome.timed_out or _cpu_exhausted(outcome, job):
        return {**base, "status": "timeout", "error": "Timeout"}
    if capture.data and not capture.truncated:
        try:
            return json.loads(capture.data)
        except ValueError:
            pass
    status = outcome.status
    if status is not None and os.WIFSIGNALED(status):
        name = signal.Signals(os.WTERMSIG(status)).name
        return {**base, "status": "crashed", "error": f"Crashed: killed by signal {name}"}
    if capture.truncated:
        return {**base, "status": "error", "error": "ResultTooLarge: the case's result exceeds the limit"}
    code = os.WEXITSTATUS(status) if status is not None else -1
    return {**base, "status": "error",
            "error": f"ProcessExit: the case process exited with status {code} before returning"}


def _cpu_exhausted(outcome: units.Outcome, job: dict[str, Any]) -> bool:
    status = outcome.status
    if status is None or not os.WIFSIGNALED(status):
        return False
    signum = os.WTERMSIG(status)
    if signum == signal.SIGXCPU:
        return True
    used = outcome.rusage.ru_utime + outcome.rusage.ru_stime if outcome.rusage else 0.0
    return signum == signal.SIGKILL and used >= float(job["cpu"])
