"""The web worker's ZeroMQ client to the supervisor.

One DEALER socket per thread (ZeroMQ sockets are not thread-safe), created lazily after
gunicorn has forked (the context is per process: a context inherited across fork is
unusable). Every request carries an id and stale replies are dropped. Failures are fast:
`IMMEDIATE` keeps messages off a connection that does not exist, a socket monitor notices
the supervisor going away mid-request, and on any timeout the socket is closed and made
anew (the "lazy pirate" pattern), so a late reply can never be taken for the next one.

What a failure is called depends on whether the request left: before it was sent the
operation certainly did not run (UNAVAILABLE, 503, retry); once it was sent, a missing
answer means it may have run (OUTCOME_UNKNOWN, 504), except for an operation that
changes nothing (`READ_ONLY_OPERATIONS`), whose supervisor going away is UNAVAILABLE: it
is as good as not run. The RPC timeout is longer than
anything the supervisor takes to answer by itself (`protocol.budget`), so running out of
it never hides a job that is still waiting to start.
"""

from __future__ import annotations

import os
import threading
import time
import uuid
from dataclasses import dataclass
from typing import Any

import zmq
import zmq.auth
from zmq.utils.monitor import recv_monitor_message

from protocol import envelope
from protocol.errors import ErrorCode, ServiceError
from protocol.models import READ_ONLY_OPERATIONS

CONNECT_WAIT = 0.5  # seconds to wait for a (re)connection before answering 503


@dataclass(frozen=True)
class CurveKeys:
    """The web tier's CurveZMQ key pair and the supervisors' public key (z85 bytes)."""

    public: bytes
    secret: bytes
    server: bytes

    @classmethod
    def load(cls, config: Any, endpoints: tuple[str, ...]) -> CurveKeys | None:
        """The keys named by the settings, or None when none are set.

        Raises:
            ValueError: half the keys are set, a file cannot be read, or a `tcp://`
                endpoint would be used without keys and REPL_INSECURE is not set (the
                supervisor refuses such an endpoint too).
        """
        client, server = config.curve_client_key, config.curve_server_key
        if not client and not server:
            plain = [e for e in endpoints if e.startswith("tcp://")]
            if plain and not config.insecure:
                raise ValueError(f"{plain[0]} is a network endpoint: set REPL_CURVE_CLIENT_KEY and "
                                 "REPL_CURVE_SERVER_KEY (see `python3 -m supervisor.keys`)")
            return None
        if not (client and server):
            raise ValueError("REPL_CURVE_CLIENT_KEY and REPL_CURVE_SERVER_KEY must be set together")
        try:
            public, secret = zmq.auth.load_certificate(client)
            server_public, _ = zmq.auth.load_certificate(server)
        except (OSError, ValueError) as exc:
            raise ValueError(f"cannot read a CurveZMQ key file: {exc}") from None
        if not secret:
            raise ValueError(f"REPL_CURVE_CLIENT_KEY={client!r} holds no secret key (give the `.key_secret` file)")
        return cls(public, secret, server_public)


@dataclass
class _Channel:
    sock: zmq.Socket
    monitor: zmq.Socket
    poller: zmq.Poller
    connected: bool = False
    used: bool = False  # a call has been made with it
    refused: bool = False  # the supervisor refused this side's key in the handshake


def _unavailable(why: str) -> ServiceError:
    """The request was not sent: nothing ran."""
    return ServiceError(ErrorCode.UNAVAILABLE, f"the supervisor is unavailable: {why}; retry shortly")


def _unknown(why: str) -> ServiceError:
    """The request was sent and no answer came: it may have run."""
    return ServiceError(ErrorCode.OUTCOME_UNKNOWN,
                        f"the supervisor {why} after the request was sent; the operation may have run")


class SupervisorClient:
    """Sends one operation and waits for its reply, per calling thread."""

    def __init__(self, endpoint: str, curve: CurveKeys | None = None) -> None:
        self.endpoint = endpoint
        self.curve = curve
        self._local = threading.local()
        self._pid = -1
        self._context: zmq.Context | None = None
        self._lock = threading.Lock()

    def call(self, op: str, body: dict[str, Any], timeout: float, request_id: str = "") -> dict[str, Any]:
        """Run `op` on the supervisor.

        `request_id` is the HTTP request's (`protocol.requestids`), for the supervisor's
        log; the envelope's own `id` is made here, one per call, to match the reply.

        Raises:
            ServiceError: the supervisor's own error; UNAVAILABLE when it cannot be
                reached (nothing was sent), or went away before answering a read-only
                operation; OUTCOME_UNKNOWN when it was sent the request and did not
                answer within `timeout` seconds or went away.
        """
        channel = self._channel()
        self._drain_monitor(channel)  # learn of a restart of the supervisor since the last call
        if not channel.connected:
            if channel.used:
                # The supervisor was away when this socket was last used: its automatic
                # reconnection may be backing off (up to RECONNECT_IVL_MAX), while a new
                # socket connects at once if the supervisor is back.
                self._reset()
                channel = self._channel()
            channel.used = True
            if not self._wait_connected(channel, CONNECT_WAIT):
                raise _unavailable("refused this web tier's CurveZMQ key" if channel.refused else "not reachable")
        channel.used = True
        rpc_id = uuid.uuid4().hex
        message = envelope.encode_request(envelope.Request(id=rpc_id, op=op, body=body, request_id=request_id))
        try:
            channel.sock.send(message, zmq.NOBLOCK)
        except zmq.Again:
            self._reset()
            raise _unavailable("not connected") from None
        return self._await_reply(channel, rpc_id, time.monotonic() + timeout, op in READ_ONLY_OPERATIONS)

    def _await_reply(self, channel: _Channel, request_id: str, deadline: float, read_only: bool) -> dict[str, Any]:
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                self._reset()
                raise _unknown("did not answer in time")
            events = dict(channel.poller.poll(int(left * 1000) + 1))
            if channel.monitor in events and self._drain_monitor(channel) and not channel.connected:
                self._reset()
                if read_only:  # it changed nothing, whether it ran or not
                    raise _unavailable("went away before answering")
                raise _unknown("went away")
            if channel.sock in events:
                reply = envelope.decode_reply(channel.sock.recv())
                if reply.id != request_id:
                    continue  # a stale reply to an abandoned request
                if reply.error is not None:
                    raise reply.error
                return reply.body or {}

    # --- sockets -----------------------------------------------------------------------

    def _channel(self) -> _Channel:
        if self._pid != os.getpid():
            with self._lock:
                if self._pid != os.getpid():
                    self._context = zmq.Context()
                    self._local = threading.local()
                    self._pid = os.getpid()
        channel = getattr(self._local, "channel", None)
        if channel is None:
            channel = self._open()
            self._local.channel = channel
        return channel

    def _open(self) -> _Channel:
        assert self._context is not None
        sock = self._context.socket(zmq.DEALER)
        sock.setsockopt(zmq.LINGER, 0)
        sock.setsockopt(zmq.IMMEDIATE, 1)
        sock.setsockopt(zmq.RECONNECT_IVL, 100)
        sock.setsockopt(zmq.RECONNECT_IVL_MAX, 1000)
        if self.curve is not None:
            sock.curve_publickey = self.curve.public
            sock.curve_secretkey = self.curve.secret
            sock.curve_serverkey = self.curve.server
        monitor = sock.get_monitor_socket(zmq.EVENT_HANDSHAKE_SUCCEEDED | zmq.EVENT_DISCONNECTED
                                          | zmq.EVENT_HANDSHAKE_FAILED_AUTH)
        sock.connect(self.endpoint)
        poller = zmq.Poller()
        poller.register(sock, zmq.POLLIN)
        poller.register(monitor, zmq.POLLIN)
        return _Channel(sock, monitor, poller)

    def _reset(self) -> None:
        channel = getattr(self._local, "channel", None)
        if channel is not None:
            self._local.channel = None
            channel.sock.disable_monitor()
            channel.monitor.close(0)
            channel.sock.close(0)

    def _wait_connected(self, channel: _Channel, seconds: float) -> bool:
        deadline = time.monotonic() + seconds
        while not channel.connected:
            left = deadline - time.monotonic()
            if left <= 0 or not channel.monitor.poll(int(left * 1000) + 1):
                return channel.connected
            self._drain_monitor(channel)
        return True

    @staticmethod
    def _drain_monitor(channel: _Channel) -> bool:
        """Apply pending monitor events to `channel.connected`; True if any arrived."""
        seen = False
        while channel.monitor.poll(0):
            event = recv_monitor_message(channel.monitor)["event"]
            seen = True
            if event == zmq.EVENT_HANDSHAKE_SUCCEEDED:
                channel.connected = True
                channel.refused = False
            elif event == zmq.EVENT_HANDSHAKE_FAILED_AUTH:
                channel.refused = True
            elif event == zmq.EVENT_DISCONNECTED:
                channel.connected = False
        return seen
