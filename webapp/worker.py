"""The gunicorn worker of the web tier: gthread, with request heads read off the threads.

Gunicorn's `gthread` worker gives a connection to a request thread as soon as a first
byte arrives, and the thread then blocks reading the rest of the head for as long as
the client takes: no setting bounds it. A few hundred clients that send one header
line and stall (slowloris) so hold every thread, and `GET /` waits behind them. And
when every thread waits on a long `/run`, the ping queues behind those too.

This worker changes two things and keeps everything else of `gthread`:

* The main loop reads each request head itself, without blocking, from the same poller
  that watches kept-alive connections. Only a connection whose head is complete goes to
  a thread, with the bytes read handed to gunicorn's parser, so a stalled client costs
  a socket, never a thread. A head not complete within `HEAD_TIMEOUT` seconds gets 408,
  one larger than `MAX_HEAD_BYTES` gets 431, and the connection is closed.
* `GET`/`HEAD` of `PROMPT_PATHS` without a body run on a small pool of their own
  (`PROMPT_THREADS`), so they answer whatever the request threads are doing. Those
  views answer from the web process alone and never wait on anything.

The cost of a stalled client is one of the worker's `worker_connections` (gunicorn's
setting, 1000 by default); a client that opens more than that at once still fills the
listen backlog until their heads time out. A client that stalls in the middle of a
body still holds a request thread (bounded per read by nothing but the client): put a
buffering proxy in front when the service faces the open internet (docs/operations.md).

Plain HTTP/1.x only: the service does not configure TLS or HTTP/2 on gunicorn.
"""

from __future__ import annotations

import selectors
import time
from concurrent import futures
from typing import Any

from gunicorn.workers.gthread import TConn, ThreadWorker

from webapp.jsonio import dumps

HEAD_TIMEOUT = 10.0
MAX_HEAD_BYTES = 64 * 1024  # a request line of 8190 bytes and the headers the API needs
PROMPT_PATHS = frozenset({b"/", b"/healthz"})
PROMPT_METHODS = frozenset({b"GET", b"HEAD"})
PROMPT_THREADS = 4
_RECV = 64 * 1024


def head_end(data: bytes | bytearray) -> bool:
    """Whether `data` holds a complete request head (the blank line after the headers)."""
    return b"\r\n\r\n" in data or b"\n\n" in data


def is_prompt(head: bytes) -> bool:
    """Whether a request is a body-less `GET`/`HEAD` of a path in `PROMPT_PATHS`."""
    request_line, _, headers = head.partition(b"\n")
    parts = request_line.split()
    if len(parts) != 3 or parts[0] not in PROMPT_METHODS:
        return False
    if parts[1].split(b"?", 1)[0] not in PROMPT_PATHS:
        return False
    for line in headers.split(b"\n"):
        name, _, value = line.partition(b":")
        name = name.strip().lower()
        if name == b"transfer-encoding" or (name == b"content-length" and value.strip() not in (b"", b"0")):
            return False
    return True


def _status_reply(status: str, detail: str) -> bytes:
    body = dumps({"detail": detail})
    return (f"HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {len(body)}\r\n"
            "Connection: close\r\n\r\n").encode() + body


class _Head:
    """What the main loop has read of one connection's next request head."""

    __slots__ = ("data", "deadline", "registered")

    def __init__(self, data: bytes) -> None:
        self.data = bytearray(data)
        self.deadline = time.monotonic() + HEAD_TIMEOUT
        self.registered = False


class HeadFirstWorker(ThreadWorker):
    """`gthread` that reads request heads in its main loop and keeps threads for the ping."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.heads: dict[TConn, _Head] = {}
        self.prompt_pool: futures.ThreadPoolExecutor | None = None

    def init_process(self) -> None:
        self.prompt_pool = futures.ThreadPoolExecutor(max_workers=PROMPT_THREADS,
                                                      thread_name_prefix="prompt")
        super().init_process()  # runs the worker's loop; returns when the worker stops

    def enqueue_req(self, conn: TConn) -> None:
        """Every connection with a request to come passes here: gather its head first."""
        buffered = conn.parser.unreader.take_buffered() if conn.parser is not None else b""
        self.heads[conn] = _Head(buffered)
        self._read_head(conn)

    def _read_head(self, conn: TConn, _fileobj: Any = None) -> None:
        head = self.heads[conn]
        conn.sock.setblocking(False)
        while not head_end(head.data) and len(head.data) <= MAX_HEAD_BYTES:
            try:
                data = conn.sock.recv(_RECV)
            except BlockingIOError:
                break
            except OSError:
                data = b""
            if not data:  # the client went away
                self._close(conn)
                return
            head.data += data
        if head_end(head.data):
            self._dispatch(conn)
        elif len(head.data) > MAX_HEAD_BYTES:
            self._refuse(conn, "431 Request Header Fields Too Large",
                         f"the request head is larger than {MAX_HEAD_BYTES} bytes")
        elif not head.registered:
            head.registered = True
            self.poller.register(conn.sock, selectors.EVENT_READ, lambda fileobj: self._read_head(conn, fileobj))

    def _forget(self, conn: TConn) -> _Head:
        head = self.heads.pop(conn)
        if head.registered:
            try:
                self.poller.unregister(conn.sock)
            except (KeyError, ValueError, OSError):
                pass
        return head

    def _dispatch(self, conn: TConn) -> None:
        """Hand a connection with a complete head to a thread, its bytes to the parser."""
        head = bytes(self._forget(conn).data)
        conn.init()  # plain HTTP/1.x: only makes the parser (and sets the socket blocking)
        conn.parser.unreader.unread(head)
        conn.data_ready = True
        pool = self.prompt_pool if is_prompt(head) else self.tpool
        assert pool is not None  # both are made in init_process, before the loop runs
        future = pool.submit(self.handle, conn)
        future.add_done_callback(lambda fut: self.method_queue.defer(self.finish_request, conn, fut))

    def _refuse(self, conn: TConn, status: str, detail: str) -> None:
        try:
            conn.sock.send(_status_reply(status, detail))  # best effort, never blocks
        except OSError:
            pass
        self._close(conn)

    def _close(self, conn: TConn) -> None:
        self._forget(conn)
        self.nr_conns -= 1
        conn.close()

    def murder_pending(self) -> None:
        """Also time out the heads that take longer than `HEAD_TIMEOUT` (run every loop)."""
        super().murder_pending()
        now = time.monotonic()
        for conn in [c for c, head in self.heads.items() if head.deadline <= now]:
            self._refuse(conn, "408 Request Timeout", f"the request head took longer than {HEAD_TIMEOUT:g} s")

    def run(self) -> None:
        try:
            super().run()
        finally:
            for conn in list(self.heads):
                self._close(conn)
            if self.prompt_pool is not None:
                self.prompt_pool.shutdown(wait=False)
