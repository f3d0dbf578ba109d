"""The sandbox's init: one per pre-forked sandbox, one job, then exit.

Forked by the zygote as pid 1 of a fresh pid namespace. It confines itself (namespaces,
/proc, /tmp), reports ready, waits for one job from the supervisor, binds the job's
session, runs the job's units one after another (each in its own unprivileged worker),
reports the result and exits, which tears the whole namespace down. It never runs user
code itself and stays the only privileged process in the sandbox.
"""

from __future__ import annotations

import json
import math
import os
import signal
import socket
import time
from dataclasses import dataclass
from typing import Any

from supervisor.sandbox import confine, evaluate, frames, units
from supervisor.sandbox.usage import disk_usage

RESULT_LIMIT = 32 << 20
EXIT_WITHOUT_RESULT = 120


@dataclass(frozen=True)
class SandboxConfig:
    """Fixed for the life of the zygote; sent by the supervisor when it starts it."""

    uid: int
    insecure: bool
    tmp_size_mb: int
    max_processes: int
    max_open_files: int
    cap_last: int
    environment: dict[str, str]

    @property
    def whole_namespace(self) -> bool:
        return not self.insecure


def serve(sock: socket.socket, root_fd: int, config: SandboxConfig) -> None:
    """Run the sandbox's life: confine, report ready, take one job, report, exit."""
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    try:
        if not config.insecure:
            confine.enter_namespaces(config.tmp_size_mb)
        frames.send(sock, {"ready": True})
    except Exception as exc:  # noqa: BLE001 - reported to the supervisor, which logs it
        frames.send(sock, {"ready": False, "error": f"{type(exc).__name__}: {exc}"})
        os._exit(1)
    job = frames.recv(sock)
    if job is None:
        os._exit(0)
    try:
        body = run_job(job, root_fd, config)
        reply: dict[str, Any] = {"ok": True, "body": body}
        if job.get("measure_usage"):
            fd = os.open(".", os.O_RDONLY | os.O_DIRECTORY)
            reply["usage"] = disk_usage(fd)
            os.close(fd)
    except Exception as exc:  # noqa: BLE001 - a failure of ours, not of user code
        reply = {"ok": False, "error": f"{type(exc).__name__}: {exc}"}
    frames.send(sock, reply)
    os._exit(0)


def run_job(job: dict[str, Any], root_fd: int, config: SandboxConfig) -> dict[str, Any]:
    session = job.get("session")
    if config.insecure:
        # Without namespaces the supervisor always names a directory, a scratch one if need be.
        fd = os.open(session, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW, dir_fd=root_fd)
        os.fchdir(fd)
        os.close(fd)
    else:
        confine.bind_session(session, job.get("scratch_mb", 64))
    os.close(root_fd)
    if job["kind"] == "run":
        return run_command(job, config)
    return run_evaluation(job, config)


def _worker(config: SandboxConfig, cpu: float, memory_mb: int, fsize: int) -> units.Worker:
    limits = confine.Limits(
        cpu_seconds=max(1, math.ceil(cpu)),
        memory_bytes=memory_mb << 20,
        max_processes=config.max_processes,
        max_file_bytes=max(fsize, 0),
        max_open_files=config.max_open_files,
    )
    uid = None if config.insecure and os.geteuid() != 0 else config.uid
    return units.Worker(uid=uid, cap_last=config.cap_last, limits=limits,
                        whole_namespace=config.whole_namespace)


# --- /run ------------------------------------------------------------------------------

def run_command(job: dict[str, Any], config: SandboxConfig) -> dict[str, Any]:
    timeout = float(job["timeout"])
    worker = _worker(config, timeout + 1, job["memory_mb"], job["fsize"])
    out_r, out_w = os.pipe()
    err_r, err_w = os.pipe()
    in_r, in_w = os.pipe()
    env = config.environment
    argv = ["/bin/sh", "-c", job["cmd"]]

    def body() -> None:
        signal.signal(signal.SIGPIPE, signal.SIG_DFL)
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # oversize writes fail with EFBIG
        os.execve(argv[0], argv, env)

    pid = units.spawn(worker, body, (in_r, out_w, err_w))
    for fd in (in_r, out_w, err_w):
        os.close(fd)
    limit = job["output_limit"]
    captures = [units.Capture(out_r, limit), units.Capture(err_r, limit)]
    stdin = (job.get("stdin") or "").encode()
    outcome = units.supervise(pid, worker, captures, time.monotonic() + timeout, (in_w, stdin))
    return {
        "stdout": captures[0].data.decode("utf-8", "replace"),
        "stderr": captures[1].data.decode("utf-8", "replace"),
        "exit_code": _exit_code(outcome.status),
        "timed_out": outcome.timed_out,
        "truncated": captures[0].truncated or captures[1].truncated,
        "duration_ms": round(outcome.duration_ms, 3),
    }


def _exit_code(status: int | None) -> int:
    if status is None:
        return -signal.SIGKILL
    if os.WIFSIGNALED(status):
        return -os.WTERMSIG(status)
    return os.WEXITSTATUS(status)


# --- /evaluate_code --------------------------------------------------------------------

def run_evaluation(job: dict[str, Any], config: SandboxConfig) -> dict[str, Any]:
    cases = job["cases"] or [None]  # with no case, still compile once to report a SyntaxError
    results: list[dict[str, Any]] = []
    compile_error: str | None = None
    for index, case in enumerate(cases):
        result = run_case(job, config, case)
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


def run_case(job: dict[str, Any], config: SandboxConfig, case: dict[str, str] | None) -> dict[str, Any]:
    """Run one case in its own worker and turn however it ended into a case result."""
    worker = _worker(config, job["cpu"], job["memory_mb"], job["fsize"])
    result_r, result_w = os.pipe()
    null = os.open(os.devnull, os.O_RDWR)

    def body() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        os.environ.clear()
        os.environ.update(config.environment)
        try:
            code_object = evaluate.compile_solution(job["code"])
        except (SyntaxError, ValueError, OverflowError, RecursionError, MemoryError) as exc:
            units.write_json(result_w, {"compile_error": evaluate.format_error(exc)})
            os._exit(0)
        if case is None:
            units.write_json(result_w, {"status": "passed"})
            os._exit(0)
        result = evaluate.run_case(code_object, job["entry_point"], case["input"], case["output"],
                                   job["stdout_limit"])
        units.write_json(result_w, result)
        os._exit(0)

    pid = units.spawn(worker, body, (null, null, null), keep=(result_w,))
    os.close(result_w)
    os.close(null)
    capture = units.Capture(result_r, RESULT_LIMIT)
    outcome = units.supervise(pid, worker, [capture], time.monotonic() + float(job["timeout"]))
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
