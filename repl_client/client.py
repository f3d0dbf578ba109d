"""The synchronous client of the sandboxed Python REPL API.

Usage::

    from repl_client import ReplClient

    with ReplClient("http://127.0.0.1:6000", token=None) as client:
        sid = client.create_session()
        client.write_file(sid, "main.py", "print(1 + 1)")
        result = client.run(sid, "python3 main.py")
        assert result.stdout == "2\\n"

Method names and arguments are those of the original client (``id`` included,
although it shadows the builtin, so existing keyword calls keep working).

Retries (rules in ``retry.py``): a 503 is retried for every call, because the
service answers 503 only when the operation did not run; ``Retry-After`` is
honoured. A 504 (:class:`~repl_client.errors.OutcomeUnknown`: the operation was
started or sent and may have run) and a transport error after the request may
have been sent are retried only for calls that are idempotent, i.e. where doing
them twice leaves the same state and the same reply as doing them once; a
transport error before the request was sent (connection refused, connect
timeout) is retried for every call:

==========================  ==========  =========================================
call                        idempotent  why
==========================  ==========  =========================================
read_file, list_files       yes         reads
write_file                  yes         the same content written twice is the same file
create_session(id=...)      yes         naming the id makes a repeat a no-op
create_session()            no          each attempt would make a new session
run                         no          user code may have side effects; run twice is wrong
evaluate_code               no          the verdict would be the same, but the code may write
                                        files in the session, and a repeat doubles the load
                                        when the service is already too slow to answer
evaluate_batch              no          as evaluate_code; its 503 items (not executed) are
                                        sent again, and only they
delete_file, delete_session no          a repeat after success answers 404
rename_file                 no          a repeat after success answers 404
fork_session                no          each attempt would make a new copy
ping, healthz, readyz       --          probes try once: they report the present state
==========================  ==========  =========================================

Timeouts: every request has a (connect, read) timeout. The read timeout of
``run`` and ``evaluate_code`` follows the service's own deadline rule
(``deadlines.py``): queue wait + the limits asked for (or the service's
defaults) + the service's margins + one for the HTTP hop, so the client never
gives up before the service does; the client's ``timeout`` is the floor for
every call.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from types import TracebackType
from typing import Any

import requests

from . import __version__
from .batch import BatchResult, BatchRounds
from .bodies import (
    IoCase,
    decode_base64,
    encode_content,
    evaluation_body,
    evaluation_timeout,
    expect_success,
    parse,
    string_field,
    without_none,
)
from .deadlines import answer_timeout
from .errors import InvalidResponse, ReplError
from .results import EvaluationResult, FileEntry, RunResult
from .retry import NO_RETRY, RetryPolicy
from .transport import Transport

__all__ = ["ReplClient"]


class ReplClient:
    """A client of one REPL service, holding a pool of keep-alive connections.

    Use it as a context manager, or call :meth:`close` when done. One client
    per thread: the underlying ``requests.Session`` is not thread-safe.

    Args:
        base_url: Where the service listens, e.g. ``http://127.0.0.1:6000``.
        token: The API token, sent as ``Authorization: Bearer <token>``;
            ``None`` when the service has no ``REPL_API_TOKEN``.
        timeout: Read timeout in seconds for ordinary calls, and the minimum
            for ``run``/``evaluate_code``. Raise it if the service's default
            limits were configured above the documented defaults.
        connect_timeout: Seconds allowed to open a connection.
        retry: Retry bounds and pacing; see :class:`RetryPolicy`.
        pool_size: Keep-alive connections kept for reuse.
    """

    def __init__(
        self,
        base_url: str,
        token: str | None = None,
        timeout: float = 30.0,
        *,
        connect_timeout: float = 5.0,
        retry: RetryPolicy | None = None,
        pool_size: int = 10,
    ) -> None:
        self.timeout = timeout
        self._transport = Transport(
            base_url,
            token=token,
            connect_timeout=connect_timeout,
            retry=retry if retry is not None else RetryPolicy(),
            pool_size=pool_size,
            user_agent=f"repl-client/{__version__} python-requests/{requests.__version__}",
        )

    # -- lifecycle -------------------------------------------------------------

    @property
    def base_url(self) -> str:
        """The service URL, without a trailing slash."""
        return self._transport.base_url

    @property
    def closed(self) -> bool:
        """True once the client has been closed; further calls raise RuntimeError."""
        return self._transport.closed

    def close(self) -> None:
        """Close the pooled connections. Idempotent."""
        self._transport.close()

    def __enter__(self) -> ReplClient:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "closed" if self.closed else "open"
        return f"<ReplClient {self.base_url} {state}>"

    # -- sessions --------------------------------------------------------------

    def create_session(self, id: str | None = None) -> str:
        """Create a session, optionally with a chosen id, and return its id.

        Args:
            id: 1-128 characters of ``[A-Za-z0-9_-]``; ``None`` lets the
                service pick a UUID4.

        Raises:
            ValidationFailed: ``id`` is not a valid session id.
        """
        body = {} if id is None else {"id": id}
        reply = self._post("/create_session", body, idempotent=id is not None)
        return string_field(reply, "id")

    def delete_session(self, id: str) -> None:
        """Remove a session and all its files.

        Raises:
            NotFound: The session does not exist.
        """
        expect_success(self._post("/delete_session", {"id": id}, idempotent=False))

    def fork_session(self, id: str) -> str:
        """Copy a session, as one consistent snapshot, and return the copy's id.

        Raises:
            NotFound: The session does not exist.
        """
        reply = self._post("/fork_session", {"id": id}, idempotent=False)
        return string_field(reply, "new_id")

    # -- files -----------------------------------------------------------------

    def write_file(
        self,
        id: str,
        rel_path: str,
        content: str | bytes,
        encoding: str | None = None,
    ) -> None:
        """Write a file atomically, creating the session and parent directories.

        Args:
            id: The session id.
            rel_path: Path relative to the session directory.
            content: Text, or bytes for a binary file. Bytes are base64-encoded
                for you; a ``str`` with ``encoding="base64"`` is taken to be
                base64 already (as the original client expected).
            encoding: ``None`` for UTF-8 text, or ``"base64"``.

        Raises:
            BadRequest: The path is absolute, escapes the session, or passes
                through a symbolic link that leads out of it.
            PayloadTooLarge: The body or the session's disk quota was exceeded.
        """
        text, wire_encoding = encode_content(content, encoding)
        body: dict[str, Any] = {"id": id, "rel_path": rel_path, "content": text}
        if wire_encoding is not None:
            body["encoding"] = wire_encoding
        expect_success(self._post("/write_file", body, idempotent=True))

    def read_file(self, id: str, rel_path: str, encoding: str | None = None) -> str | bytes:
        """Read a file.

        Args:
            id: The session id.
            rel_path: Path relative to the session directory.
            encoding: ``None`` for UTF-8 text, or ``"base64"`` for any file.

        Returns:
            The text, or the raw bytes when ``encoding == "base64"``.

        Raises:
            NotFound: The file does not exist.
            BadRequest: The file is not UTF-8 (read it with ``encoding="base64"``),
                or the path is refused.
        """
        params = {"id": id, "rel_path": rel_path, "encoding": encoding}
        content = string_field(self._get("/read_file", params), "content")
        return decode_base64(content) if encoding == "base64" else content

    def delete_file(self, id: str, rel_path: str) -> None:
        """Delete a file.

        Raises:
            NotFound: The file does not exist.
        """
        body = {"id": id, "rel_path": rel_path}
        expect_success(self._post("/delete_file", body, idempotent=False))

    def rename_file(self, id: str, old_path: str, new_path: str) -> None:
        """Rename (move) a file within its session.

        Raises:
            NotFound: ``old_path`` does not exist.
        """
        body = {"id": id, "old_path": old_path, "new_path": new_path}
        expect_success(self._post("/rename_file", body, idempotent=False))

    def list_files(self, id: str) -> list[FileEntry]:
        """List every entry of a session recursively (links listed, not followed).

        Raises:
            NotFound: The session does not exist.
        """
        files = self._get("/list_files", {"id": id}).get("files")
        if not isinstance(files, list):
            raise InvalidResponse("reply has no list 'files'", status_code=200)
        return [parse(FileEntry, entry) for entry in files]

    # -- execution -------------------------------------------------------------

    def run(
        self,
        id: str,
        cmd: str,
        stdin: str | None = None,
        timeout: float | None = None,
    ) -> RunResult:
        """Run a shell command (``/bin/sh -c``) in the session's sandbox.

        A command that fails or times out is not an exception: look at
        ``exit_code`` and ``timed_out`` of the result.

        Args:
            id: The session id.
            cmd: The command line.
            stdin: Text fed to the command's standard input.
            timeout: Wall-clock limit in seconds; ``None`` for the service's
                default (30 s).

        Raises:
            BadRequest: The session does not exist ("Session does not exist").
            ValidationFailed: ``timeout`` is above the service's maximum.
        """
        body = without_none({"id": id, "cmd": cmd, "stdin": stdin, "timeout": timeout})
        read_timeout = self._read_timeout(answer_timeout("run", timeout))
        reply = self._post("/run", body, idempotent=False, read_timeout=read_timeout)
        return parse(RunResult, reply)

    def evaluate_code(
        self,
        id: str,
        code: str,
        entry_point: str | None = None,
        io_cases: Iterable[IoCase] = (),
        timeout: float | None = None,
        cpu_limit: float | None = None,
        memory_limit_mb: int | None = None,
        float_tolerance: float | None = None,
        stop_on_first_failure: bool = False,
        *,
        cmd: str | None = None,
        compile: str | None = None,
        main_file: str | None = None,
        compare: str | None = None,
        rel_tol: float | None = None,
        abs_tol: float | None = None,
        tests: str | None = None,
        isolation: str | None = None,
        checker: Mapping[str, Any] | None = None,
        interactor: Mapping[str, Any] | None = None,
    ) -> EvaluationResult:
        """Check ``code`` against each case: call ``entry_point`` and compare the
        value it returns (function-call cases), or run the program and compare
        what it prints (stdin/stdout cases).

        A failing or crashing case is not an exception: look at ``passed`` and
        ``case_results`` of the result.

        Args:
            id: The session id (its directory is the cases' working directory);
                an unknown id gets an empty scratch directory.
            code: Python source defining the entry point, or the program.
            entry_point: An expression naming the callable, e.g. ``add`` or
                ``Solution().twoSum``; ``None`` (the default) for stdin/stdout
                cases, and for tests that do not call for it.
            io_cases: ``{"input": ..., "output": ...}`` mappings or
                ``(input, output)`` pairs, where ``input`` is a call's argument
                list such as ``"1, 2"`` and ``output`` a Python literal or
                expression; or ``{"stdin": ..., "stdout": ...}`` mappings, the
                text fed to the program and the output expected. One kind per call;
                may be left out with ``tests``.
            timeout: Wall-clock limit per case in seconds (service default 5).
            cpu_limit: CPU limit per case in seconds (service default 4).
            memory_limit_mb: Memory limit per case (service default 2048).
            float_tolerance: Compare floats within this relative and absolute
                tolerance (``math.isclose``), through lists, tuples and dicts.
            stop_on_first_failure: Skip every case after the first that does not
                pass (their status is ``skipped``).
            cmd: stdin/stdout cases: the command each case runs (``/bin/sh -c``,
                in the session directory); the code is at ``$PROGRAM``.
                Default: the code run with the service's Python.
            compile: stdin/stdout cases: a command run once before the cases.
            main_file: stdin/stdout cases: the code's file name (default ``main.py``).
            compare: stdin/stdout cases: ``exact``, ``lines`` (the service's
                default), ``tokens`` or ``float``.
            rel_tol: ``compare="float"``: the relative tolerance.
            abs_tol: ``compare="float"``: the absolute tolerance.
            tests: Test-code mode: Python source with top-level asserts, a
                ``check(candidate)`` function (called with ``entry_point``) or
                ``unittest.TestCase`` classes; each test is a case after the
                ``io_cases`` (which may then be left out).
            isolation: Function-call cases and tests: ``"request"`` (the service's
                default: the cases share one process, each in fresh globals) or
                ``"case"`` (each case in a fork of a process that ran the module
                level once).
            checker: A checker that decides each case instead of a comparison
                (docs/api.md §4.3): ``{"code": <Python defining check(input,
                expected, output)>}`` or ``{"cmd": ..., "compile": ...}`` in
                testlib's protocol, with optional ``files`` and ``timeout``.
            interactor: stdin/stdout cases: ``{"code": <Python defining
                interact(input, answer, receive, send)>}``, run beside the program
                for each case, its only input and output (docs/api.md §4.4).

        Raises:
            ValidationFailed: A limit is above the service's maximum, a case is
                malformed, or the cases mix the two kinds.
        """
        body = evaluation_body(
            id=id,
            code=code,
            entry_point=entry_point,
            io_cases=io_cases,
            timeout=timeout,
            cpu_limit=cpu_limit,
            memory_limit_mb=memory_limit_mb,
            float_tolerance=float_tolerance,
            stop_on_first_failure=stop_on_first_failure,
            cmd=cmd,
            compile=compile,
            main_file=main_file,
            compare=compare,
            rel_tol=rel_tol,
            abs_tol=abs_tol,
            tests=tests,
            isolation=isolation,
            checker=checker,
            interactor=interactor,
        )
        read_timeout = self._read_timeout(evaluation_timeout(body))
        reply = self._post("/evaluate_code", body, idempotent=False, read_timeout=read_timeout)
        return parse(EvaluationResult, reply)

    def evaluate_batch(self, submissions: Iterable[Mapping[str, Any]]) -> list[BatchResult]:
        """Evaluate many submissions in one request, side by side on the service.

        Args:
            submissions: Each a mapping of :meth:`evaluate_code`'s keyword arguments
                (``id``, ``code``, ``entry_point``, ``io_cases`` and the optional limits);
                at most the service's ``REPL_MAX_BATCH`` (100 by default).

        Returns:
            One item per submission, in order: its :class:`EvaluationResult`, or the
            exception :meth:`evaluate_code` would have raised for it (returned, not
            raised), e.g. :class:`OutcomeUnknown`. Submissions answered 503 (not
            executed) are sent again as the retry policy allows; a
            :class:`ServiceUnavailable` item is one that never got to run.

        Raises:
            ValidationFailed: A submission is malformed (``detail`` locates it as
                ``submissions.<index>.<field>``) or there are too many.
            ServiceUnavailable: None of them could be started, even after retries.
        """
        rounds = BatchRounds(submissions, self._transport.retry)
        while True:
            read_timeout = self._read_timeout(rounds.read_timeout())
            reply = self._post("/evaluate_batch", rounds.request(), idempotent=False, read_timeout=read_timeout)
            wait = rounds.record(reply)
            if wait is None:
                return rounds.results
            self._transport.retry.sleep(wait)

    # -- probes ----------------------------------------------------------------

    def ping(self) -> bool:
        """Return True when the web tier answers ``GET /`` with ``"ping"``.

        Never raises for a service problem: a probe's answer is yes or no.
        """
        try:
            return bool(self._get("/", retry=NO_RETRY) == "ping")
        except ReplError:
            return False

    def healthz(self) -> Any:
        """Return the body of ``GET /healthz``: the web process is alive.

        Raises:
            ReplError: The web process did not answer healthy.
        """
        return self._get("/healthz", retry=NO_RETRY)

    def readyz(self) -> dict[str, Any]:
        """Return the body of ``GET /readyz``: the supervisor answers and has idle sandboxes.

        Raises:
            ServiceUnavailable: The service is not ready; ``body`` holds its report.
        """
        reply = self._get("/readyz", retry=NO_RETRY)
        if not isinstance(reply, dict):
            raise InvalidResponse("readyz reply is not a JSON object", status_code=200)
        return reply

    # -- plumbing --------------------------------------------------------------

    def _read_timeout(self, service_deadline: float) -> float:
        """The service's deadline for a call, never below ``self.timeout``."""
        return max(self.timeout, service_deadline)

    def _get(
        self,
        path: str,
        params: Mapping[str, Any] | None = None,
        *,
        retry: RetryPolicy | None = None,
    ) -> Any:
        """GET ``path``; reads are idempotent, so every failure kind may be retried."""
        return self._transport.call(
            "GET", path, params=params, read_timeout=self.timeout, idempotent=True, retry=retry
        )

    def _post(
        self,
        path: str,
        body: Mapping[str, Any],
        *,
        idempotent: bool,
        read_timeout: float | None = None,
    ) -> Any:
        """POST a JSON body; ``idempotent`` as in the table of the module docstring."""
        return self._transport.call(
            "POST",
            path,
            body=dict(body),
            read_timeout=self.timeout if read_timeout is None else read_timeout,
            idempotent=idempotent,
        )
