"""The ``pool`` baseline: the simple grader the service replaces, as a Flask app.

It does what the original service and most simple graders do, with no isolation at all:
``/evaluate_code`` makes a fresh ``ProcessPoolExecutor(max_workers=2)`` per request and
submits every case to it (``exec(code, {})`` per case, ``got == expected``; with
``tests``, one more case that runs ``code`` then ``tests`` then ``check(<entry_point>)``
in one process, as HumanEval's harness does), and ``/run`` is
``subprocess.run(cmd, shell=True)`` in the session's directory. Program cases
(``{stdin, stdout}``) are the naive program grader of SandboxFusion, Judge0 and Piston:
``code`` saved as ``main.py`` in a new directory, then ``python3 main.py`` per case in a
subprocess (``$BENCH_PYTHON``, default this interpreter), one case after another,
stdout compared line by line as the service's default ``lines``. It answers in the
service's response shape, so the scenario code drives it unchanged, and it is served by
gunicorn with the service's own settings (see ``bench/servers.py``), so the comparison is
of the execution path alone. It is a yardstick, never something to deploy: user code runs
as the server's own user.

The session root is ``$BENCH_POOL_ROOT`` (the harness points it into its work directory).
Sessions are directories there, so every gunicorn worker sees the same ones.
"""

from __future__ import annotations

import ast
import math
import os
import re
import shutil
import subprocess
import sys
import tempfile
import uuid
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from pathlib import Path
from typing import Any

from flask import Flask, Response, jsonify, request

#: Per-case wall-clock limit (s), the service's default.
CASE_TIMEOUT_S = 5.0

#: ``/run`` wall-clock limit (s), the original service's.
RUN_TIMEOUT_S = 30.0

#: Worker processes of the per-request pool.
POOL_WORKERS = 2

#: The interpreter that runs program cases (the harness sets the sandbox's ``python3``).
PYTHON = os.environ.get("BENCH_PYTHON") or sys.executable

#: The file a program case's code is saved as, the service's default ``main_file``.
MAIN_FILE = "main.py"

#: Session ids the service accepts; anything else could escape the session root.
SESSION_ID = re.compile(r"[A-Za-z0-9_-]{1,128}\Z")

SESSION_ROOT = Path(os.environ.get("BENCH_POOL_ROOT")
                    or Path(tempfile.gettempdir()) / "bench-pool-sessions")

app = Flask(__name__)


def json_value(value: Any) -> Any:
    """Returns ``value`` if JSON carries it faithfully (tuples as lists), else its ``repr``.

    The same rule as the service's ``got``/``expected``, so replies look alike.
    """
    def plain(item: Any) -> bool:
        if item is None or isinstance(item, (bool, int, str)):
            return True
        if isinstance(item, float):
            return math.isfinite(item)
        if isinstance(item, (list, tuple)):
            return all(plain(element) for element in item)
        if isinstance(item, dict):
            return all(isinstance(key, str) and plain(element) for key, element in item.items())
        return False

    return value if plain(value) else repr(value)


def run_case(code: str, entry_point: str, case_input: str, case_output: str) -> dict[str, Any]:
    """Evaluates one case in a pool worker, as a simple grader does.

    Runs in the worker process (so it must be a module-level function to be picklable).

    Returns:
        ``status`` (``passed``/``failed``/``error``), ``got``, ``expected`` and ``error``.
    """
    namespace: dict[str, Any] = {}
    try:
        exec(code, namespace)  # noqa: S102 - the whole point of this baseline
        namespace["__bench_candidate__"] = eval(entry_point, namespace)  # noqa: S307
        got = eval(f"__bench_candidate__({case_input})", namespace)  # noqa: S307
        try:
            expected = ast.literal_eval(case_output)
        except (ValueError, SyntaxError):
            expected = eval(case_output, namespace)  # noqa: S307
    except BaseException as error:  # noqa: BLE001 - SystemExit too, like the service
        return {"status": "error", "got": None, "expected": None,
                "error": f"{type(error).__name__}: {error}"}
    same = bool(got == expected)
    return {"status": "passed" if same else "failed", "got": json_value(got),
            "expected": json_value(expected), "error": None}


def run_check(code: str, tests: str, entry_point: str) -> dict[str, Any]:
    """Runs test-code mode's one ``check`` case in a pool worker, as HumanEval's harness does.

    ``code``, then ``tests``, in one namespace, then ``check(<entry_point>)``: an
    ``AssertionError`` is ``failed``, any other exception ``error``.
    """
    namespace: dict[str, Any] = {}
    try:
        exec(code, namespace)  # noqa: S102 - the whole point of this baseline
        exec(tests, namespace)  # noqa: S102
        namespace["check"](eval(entry_point, namespace))  # noqa: S307
    except AssertionError as error:
        return {"status": "failed", "got": None, "expected": None,
                "error": f"AssertionError: {error}"}
    except BaseException as error:  # noqa: BLE001 - SystemExit too, like the service
        return {"status": "error", "got": None, "expected": None,
                "error": f"{type(error).__name__}: {error}"}
    return {"status": "passed", "got": None, "expected": None, "error": None}


def same_lines(got: str, expected: str) -> bool:
    """The service's default ``compare: lines``: trailing whitespace of each line and
    trailing empty lines do not count."""
    def lines(text: str) -> list[str]:
        kept = [line.rstrip() for line in text.split("\n")]
        while kept and not kept[-1]:
            kept.pop()
        return kept

    return lines(got) == lines(expected)


def run_program(directory: Path, case: dict[str, str], timeout: float) -> dict[str, Any]:
    """Runs one program case: ``python3 main.py`` in ``directory``, ``stdin`` fed to it.

    A non-zero exit is ``error``, as in the service; otherwise the stdout is compared.
    """
    try:
        done = subprocess.run(  # noqa: S603 - the whole point of this baseline
            [PYTHON, MAIN_FILE], cwd=directory, input=case.get("stdin") or "", capture_output=True,
            text=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired as expired:
        return {"status": "timeout", "got": None, "expected": case["stdout"], "error": "Timeout",
                "stdout": _text(expired.stdout), "stderr": _text(expired.stderr)}
    if done.returncode != 0:
        status = "error"
    else:
        status = "passed" if same_lines(done.stdout, case["stdout"]) else "failed"
    return {"status": status, "got": done.stdout, "expected": case["stdout"],
            "error": None if done.returncode == 0 else f"exit status {done.returncode}",
            "stdout": done.stdout, "stderr": done.stderr}


def evaluate_program(code: str, cases: list[dict[str, str]], timeout: float) -> dict[str, Any]:
    """Evaluates program cases the naive way: a new interpreter per case, one after another."""
    with tempfile.TemporaryDirectory(prefix="bench-program-") as directory:
        path = Path(directory)
        (path / MAIN_FILE).write_text(code, encoding="utf-8")
        results = [run_program(path, case, timeout) for case in cases]
    return _reply([{"input": case.get("stdin") or ""} for case in cases], results, None)


def _outcome(future: Future[dict[str, Any]], timeout: float) -> tuple[dict[str, Any], bool]:
    """Waits for one case; returns its outcome and whether it timed out."""
    try:
        return future.result(timeout=timeout), False
    except FutureTimeout:
        return {"status": "timeout", "got": None, "expected": None, "error": "Timeout"}, True
    except Exception as error:  # noqa: BLE001 - a dead worker (BrokenProcessPool)
        return {"status": "crashed", "got": None, "expected": None,
                "error": f"{type(error).__name__}: {error}"}, False


def _kill_workers(pool: ProcessPoolExecutor) -> None:
    """Kills the pool's workers: a case that overran its limit would otherwise never end.

    ``_processes`` is private to ``concurrent.futures``, but it is the only handle on the
    workers, and a simple grader with a timeout has to do this too.
    """
    for process in list((pool._processes or {}).values()):  # noqa: SLF001
        process.kill()


def evaluate(code: str, entry_point: str, cases: list[dict[str, str]],
             timeout: float, tests: str | None = None) -> dict[str, Any]:
    """Evaluates every case in a fresh process pool; returns the service's reply shape.

    With ``tests``, their ``check`` is one more case after the io cases.
    """
    if tests is not None:
        cases = [*cases, {"input": f"check({entry_point})"}]
    try:
        compile(code, "<solution>", "exec")
    except SyntaxError as error:
        message = f"SyntaxError: {error}"
        results = [{"status": "error", "got": None, "expected": None, "error": message}
                   for _ in cases]
        return _reply(cases, results, message)
    pool = ProcessPoolExecutor(max_workers=POOL_WORKERS)
    timed_out = False
    try:
        futures = [_submit(pool, code, entry_point, case, tests) for case in cases]
        results = []
        for future in futures:
            result, late = _outcome(future, timeout)
            timed_out = timed_out or late
            results.append(result)
    finally:
        if timed_out:
            _kill_workers(pool)
        pool.shutdown(wait=not timed_out, cancel_futures=True)
    return _reply(cases, results, None)


def _submit(pool: ProcessPoolExecutor, code: str, entry_point: str, case: dict[str, str],
            tests: str | None) -> Future[dict[str, Any]]:
    """Submits one case: an io case, or (no ``output``) the tests' ``check``."""
    if "output" in case or tests is None:
        return pool.submit(run_case, code, entry_point, case["input"], case["output"])
    return pool.submit(run_check, code, tests, entry_point)


def _reply(cases: list[dict[str, str]], results: list[dict[str, Any]],
           error: str | None) -> dict[str, Any]:
    """Shapes the per-case outcomes as the service's ``/evaluate_code`` reply."""
    case_results = [
        {"case": index, "input": case["input"], "passed": result["status"] == "passed",
         **result}
        for index, (case, result) in enumerate(zip(cases, results, strict=True))
    ]
    return {"passed": all(r["passed"] for r in case_results), "case_results": case_results,
            "error": error}


def _session_dir(session_id: Any) -> Path | None:
    """Returns the directory of a well-formed session id, or ``None``."""
    if not isinstance(session_id, str) or not SESSION_ID.match(session_id):
        return None
    return SESSION_ROOT / session_id


def _detail(message: str, status: int) -> tuple[Response, int]:
    """An error reply in the service's ``{"detail": ...}`` shape."""
    return jsonify({"detail": message}), status


@app.post("/evaluate_code")
def evaluate_code() -> Response | tuple[Response, int]:
    """``/evaluate_code`` of the simple grader (see the module docstring)."""
    body = request.get_json(force=True)
    timeout = float(body.get("timeout") or CASE_TIMEOUT_S)
    cases = body.get("io_cases") or []
    if cases and "stdout" in cases[0]:
        return jsonify(evaluate_program(body["code"], cases, timeout))
    return jsonify(evaluate(body["code"], body["entry_point"], cases, timeout, body.get("tests")))


@app.post("/run")
def run() -> Response | tuple[Response, int]:
    """``/run``: ``subprocess.run(cmd, shell=True)`` in the session's directory."""
    body = request.get_json(force=True)
    directory = _session_dir(body.get("id"))
    if directory is None or not directory.is_dir():
        return _detail("Session does not exist", 400)
    try:
        done = subprocess.run(  # noqa: S602 - the whole point of this baseline
            body["cmd"], shell=True, cwd=directory, capture_output=True, text=True,
            timeout=float(body.get("timeout") or RUN_TIMEOUT_S), check=False)
    except subprocess.TimeoutExpired as expired:
        return jsonify({"stdout": _text(expired.stdout), "stderr": _text(expired.stderr),
                        "id": body["id"], "exit_code": None, "timed_out": True})
    return jsonify({"stdout": done.stdout, "stderr": done.stderr, "id": body["id"],
                    "exit_code": done.returncode, "timed_out": False})


def _text(output: bytes | str | None) -> str:
    """Decodes what a timed-out command printed (``TimeoutExpired`` may carry bytes)."""
    if isinstance(output, bytes):
        return output.decode("utf-8", errors="replace")
    return output or ""


@app.post("/create_session")
def create_session() -> Response | tuple[Response, int]:
    """Makes the session's directory; ``{}`` gets a new UUID4 id, as in the service."""
    body = request.get_json(force=True) or {}
    session_id = body.get("id") or str(uuid.uuid4())
    directory = _session_dir(session_id)
    if directory is None:
        return _detail("invalid session id", 422)
    directory.mkdir(parents=True, exist_ok=True)
    return jsonify({"id": session_id})


@app.post("/delete_session")
def delete_session() -> Response | tuple[Response, int]:
    """Removes the session's directory."""
    session_id = (request.get_json(force=True) or {}).get("id")
    directory = _session_dir(session_id)
    if directory is None or not directory.is_dir():
        return _detail("Session does not exist", 404)
    shutil.rmtree(directory)
    return jsonify({"success": True, "id": session_id})


@app.get("/")
def root() -> Response:
    """The service's ``GET /``."""
    return jsonify("ping")


@app.get("/ping")
def ping() -> Response:
    """Answers the readiness probe of the harness."""
    return jsonify("ping")
