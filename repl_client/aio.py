"""The asynchronous client, on httpx: ``pip install 'repl-client[async]'``.

Usage::

    import asyncio
    from repl_client import AsyncReplClient

    async def main() -> None:
        async with AsyncReplClient("http://127.0.0.1:6000") as client:
            results = await client.evaluate_batch([
                {"id": "s1", "code": "def f():\\n    return 1", "entry_point": "f",
                 "io_cases": [("", "1")]},
            ])

    asyncio.run(main())

It has the synchronous client's methods, as coroutines, with the same arguments, results,
exceptions, retry rules (``retry.py``, the waits through ``RetryPolicy.async_sleep``) and
deadlines (``deadlines.py``): what to send and what an answer means is written once, in
``bodies.py``, ``batch.py``, ``errors.py`` and ``transport.decode``; only the sending is
here. One client may serve many tasks at once (``httpx.AsyncClient`` is safe for that).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from types import TracebackType
from typing import Any

import httpx

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
from .errors import ConnectionFailed, InvalidResponse, ReplError
from .results import EvaluationResult, FileEntry, RunResult
from .retry import NO_RETRY, RetryPolicy, next_wait
from .transport import check_base_url, decode, logger

__all__ = ["AsyncReplClient"]

#: httpx failures that happen before a byte of the request is written.
_NEVER_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)


class AsyncTransport:
    """Sends JSON requests with one ``httpx.AsyncClient``; the async twin of ``Transport``."""

    def __init__(self, base_url: str, *, token: str | None, connect_timeout: float, retry: RetryPolicy,
                 pool_size: int, user_agent: str) -> None:
        self.base_url = check_base_url(base_url)
        self.connect_timeout = connect_timeout
        self.retry = retry
        headers = {"User-Agent": user_agent, "Accept": "application/json"}
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        limits = httpx.Limits(max_connections=pool_size, max_keepalive_connections=pool_size)
        self._http = httpx.AsyncClient(headers=headers, limits=limits, follow_redirects=False)
        self.closed = False

    async def aclose(self) -> None:
        if not self.closed:
            self.closed = True
            await self._http.aclose()

    async def call(self, method: str, path: str, *, read_timeout: float, idempotent: bool,
                   params: Mapping[str, Any] | None = None, body: Any = None,
                   retry: RetryPolicy | None = None) -> Any:
        """As ``Transport.call``: one API call, retried as the policy allows."""
        if self.closed:
            raise RuntimeError("AsyncReplClient is closed")
        policy = retry if retry is not None else self.retry
        deadline = policy.clock() + policy.total_time
        failures = 0
        while True:
            try:
                return await self._attempt(method, path, params, body, read_timeout)
            except ReplError as error:
                failures += 1
                wait = next_wait(error, idempotent=idempotent, failures=failures, policy=policy, deadline=deadline)
                if wait is None:
                    raise
                logger.info("retrying %s %s in %.2fs after: %s", method, path, wait, error)
                await policy.async_sleep(wait)

    async def _attempt(self, method: str, path: str, params: Mapping[str, Any] | None, body: Any,
                       read_timeout: float) -> Any:
        query = {key: value for key, value in (params or {}).items() if value is not None}
        try:
            response = await self._http.request(
                method, self.base_url + path, params=query or None, json=body,
                timeout=httpx.Timeout(read_timeout, connect=self.connect_timeout))
        except (httpx.InvalidURL, httpx.UnsupportedProtocol) as exc:
            raise ReplError(f"{method} {path}: invalid URL: {exc}") from exc
        except httpx.HTTPError as exc:
            raise ConnectionFailed(f"{method} {path}: {exc!r}",
                                   request_sent=not isinstance(exc, _NEVER_SENT)) from exc
        return decode(response)


class AsyncReplClient:
    """A client of one REPL service for asyncio code; arguments as :class:`ReplClient`.

    Use it as ``async with``, or ``await client.aclose()`` when done.
    """

    def __init__(self, base_url: str, token: str | None = None, timeout: float = 30.0, *,
                 connect_timeout: float = 5.0, retry: RetryPolicy | None = None, pool_size: int = 10) -> None:
        self.timeout = timeout
        self._transport = AsyncTransport(
            base_url, token=token, connect_timeout=connect_timeout,
            retry=retry if retry is not None else RetryPolicy(), pool_size=pool_size,
            user_agent=f"repl-client/{__version__} python-httpx/{httpx.__version__}")

    @property
    def base_url(self) -> str:
        return self._transport.base_url

    @property
    def closed(self) -> bool:
        return self._transport.closed

    async def aclose(self) -> None:
        """Close the pooled connections. Idempotent."""
        await self._transport.aclose()

    async def __aenter__(self) -> AsyncReplClient:
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        await self.aclose()

    def __repr__(self) -> str:
        return f"<AsyncReplClient {self.base_url} {'closed' if self.closed else 'open'}>"

    # -- sessions and files (see ReplClient for each one's contract) ---------------------

    async def create_session(self, id: str | None = None) -> str:
        body = {} if id is None else {"id": id}
        return string_field(await self._post("/create_session", body, idempotent=id is not None), "id")

    async def delete_session(self, id: str) -> None:
        expect_success(await self._post("/delete_session", {"id": id}, idempotent=False))

    async def fork_session(self, id: str) -> str:
        return string_field(await self._post("/fork_session", {"id": id}, idempotent=False), "new_id")

    async def write_file(self, id: str, rel_path: str, content: str | bytes, encoding: str | None = None) -> None:
        text, wire_encoding = encode_content(content, encoding)
        body = without_none({"id": id, "rel_path": rel_path, "content": text, "encoding": wire_encoding})
        expect_success(await self._post("/write_file", body, idempotent=True))

    async def read_file(self, id: str, rel_path: str, encoding: str | None = None) -> str | bytes:
        params = {"id": id, "rel_path": rel_path, "encoding": encoding}
        content = string_field(await self._get("/read_file", params), "content")
        return decode_base64(content) if encoding == "base64" else content

    async def delete_file(self, id: str, rel_path: str) -> None:
        body = {"id": id, "rel_path": rel_path}
        expect_success(await self._post("/delete_file", body, idempotent=False))

    async def rename_file(self, id: str, old_path: str, new_path: str) -> None:
        body = {"id": id, "old_path": old_path, "new_path": new_path}
        expect_success(await self._post("/rename_file", body, idempotent=False))

    async def list_files(self, id: str) -> list[FileEntry]:
        files = (await self._get("/list_files", {"id": id})).get("files")
        if not isinstance(files, list):
            raise InvalidResponse("reply has no list 'files'", status_code=200)
        return [parse(FileEntry, entry) for entry in files]

    # -- execution -----------------------------------------------------------------------

    async def run(self, id: str, cmd: str, stdin: str | None = None, timeout: float | None = None) -> RunResult:
        body = without_none({"id": id, "cmd": cmd, "stdin": stdin, "timeout": timeout})
        read_timeout = max(self.timeout, answer_timeout("run", timeout))
        return parse(RunResult, await self._post("/run", body, idempotent=False, read_timeout=read_timeout))

    async def evaluate_code(self, id: str, code: str, entry_point: str | None = None, io_cases: Iterable[IoCase] = (),
                            timeout: float | None = None, cpu_limit: float | None = None,
                            memory_limit_mb: int | None = None, float_tolerance: float | None = None,
                            stop_on_first_failure: bool = False, *, cmd: str | None = None,
                            compile: str | None = None, main_file: str | None = None,
                            compare: str | None = None, rel_tol: float | None = None,
                            abs_tol: float | None = None, tests: str | None = None,
                            isolation: str | None = None,
                            checker: Mapping[str, Any] | None = None,
                            interactor: Mapping[str, Any] | None = None) -> EvaluationResult:
        """As :meth:`ReplClient.evaluate_code`."""
        body = evaluation_body(id=id, code=code, entry_point=entry_point, io_cases=io_cases, timeout=timeout,
                               cpu_limit=cpu_limit, memory_limit_mb=memory_limit_mb,
                               float_tolerance=float_tolerance, stop_on_first_failure=stop_on_first_failure,
                               cmd=cmd, compile=compile, main_file=main_file, compare=compare,
                               rel_tol=rel_tol, abs_tol=abs_tol, tests=tests, isolation=isolation,
                               checker=checker, interactor=interactor)
        read_timeout = max(self.timeout, evaluation_timeout(body))
        reply = await self._post("/evaluate_code", body, idempotent=False, read_timeout=read_timeout)
        return parse(EvaluationResult, reply)

    async def evaluate_batch(self, submissions: Iterable[Mapping[str, Any]]) -> list[BatchResult]:
        """As :meth:`ReplClient.evaluate_batch`."""
        rounds = BatchRounds(submissions, self._transport.retry)
        while True:
            read_timeout = max(self.timeout, rounds.read_timeout())
            reply = await self._post("/evaluate_batch", rounds.request(), idempotent=False,
                                     read_timeout=read_timeout)
            wait = rounds.record(reply)
            if wait is None:
                return rounds.results
            await self._transport.retry.async_sleep(wait)

    # -- probes --------------------------------------------------------------------------

    async def ping(self) -> bool:
        try:
            return bool(await self._get("/", retry=NO_RETRY) == "ping")
        except ReplError:
            return False

    async def healthz(self) -> Any:
        return await self._get("/healthz", retry=NO_RETRY)

    async def readyz(self) -> dict[str, Any]:
        reply = await self._get("/readyz", retry=NO_RETRY)
        if not isinstance(reply, dict):
            raise InvalidResponse("readyz reply is not a JSON object", status_code=200)
        return reply

    # -- plumbing ------------------------------------------------------------------------

    async def _get(self, path: str, params: Mapping[str, Any] | None = None, *,
                   retry: RetryPolicy | None = None) -> Any:
        return await self._transport.call("GET", path, params=params, read_timeout=self.timeout,
                                          idempotent=True, retry=retry)

    async def _post(self, path: str, body: Mapping[str, Any], *, idempotent: bool,
                    read_timeout: float | None = None) -> Any:
        return await self._transport.call("POST", path, body=dict(body), idempotent=idempotent,
                                          read_timeout=self.timeout if read_timeout is None else read_timeout)
