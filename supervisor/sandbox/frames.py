"""Runs in: every process of the sandbox path (the supervisor's side, the init, the template, units).

Length-prefixed JSON frames on the stream socket between the supervisor and a sandbox.

A frame is a 4-byte big-endian length followed by that many bytes of JSON. The sandbox
side uses blocking calls (it has nothing else to do); the supervisor side feeds received
bytes to a `FrameReader` from its poll loop.
"""

from __future__ import annotations

import json
import os
import socket
import struct
import sys
from collections.abc import Callable
from typing import Any

HEADER = struct.Struct(">I")
MAX_FRAME = 64 << 20
# The int-to-str limit every frame is written and read under, whatever the process's own
# (user code in a unit may set any): Python's default, above the digits of any integer
# the service sends as a JSON number (`values.HEX_INT_BITS`: larger ones cross as hex).
INT_DIGITS = sys.int_info.default_max_str_digits


def dumps(message: Any) -> bytes:
    """A message's JSON, the body of a frame (and, alone, of a message sent on a pipe
    that its writer closes after it)."""
    previous = _standard_int_digits()
    try:
        # ASCII escapes: a string holding a lone surrogate (a solution may return '\ud800')
        # has no UTF-8 form, but its JSON escape travels fine.
        return json.dumps(message, separators=(",", ":")).encode()
    finally:
        _restore_int_digits(previous)


def loads(data: bytes) -> Any:
    """A frame's body, read under `INT_DIGITS` (a forged integer of a million digits is
    refused, not converted in quadratic time)."""
    previous = _standard_int_digits()
    try:
        return json.loads(data)
    finally:
        _restore_int_digits(previous)


def _standard_int_digits() -> int:
    previous = sys.get_int_max_str_digits()
    if previous != INT_DIGITS:
        sys.set_int_max_str_digits(INT_DIGITS)
    return previous


def _restore_int_digits(previous: int) -> None:
    if previous != INT_DIGITS:
        sys.set_int_max_str_digits(previous)


def encode(message: Any) -> bytes:
    payload = dumps(message)
    return HEADER.pack(len(payload)) + payload


def write_fd(fd: int, message: Any) -> None:
    """Write one frame to a pipe (blocking; the reader is the sandbox's init)."""
    view = memoryview(encode(message))
    while view:
        try:
            view = view[os.write(fd, view):]
        except InterruptedError:
            continue


def read_fd(fd: int) -> Any | None:
    """Block for one frame on a pipe; None when its writer closed it.

    Raises:
        ValueError: the bytes are not a frame.
    """
    return _read_frame(lambda size: os.read(fd, size))


def first_frame(data: bytes | bytearray) -> tuple[Any, int] | None:
    """The first complete frame in `data` and the bytes it spans, or None if incomplete.

    Raises:
        ValueError: the bytes are not a frame (a garbled or forged report).
    """
    if len(data) < HEADER.size:
        return None
    (length,) = HEADER.unpack_from(data)
    if length > MAX_FRAME:
        raise ValueError(f"frame of {length} bytes exceeds {MAX_FRAME}")
    end = HEADER.size + length
    if len(data) < end:
        return None
    return loads(bytes(data[HEADER.size:end])), end


def send(sock: socket.socket, message: Any) -> None:
    sock.sendall(encode(message))


def recv(sock: socket.socket) -> Any | None:
    """Block for one frame; None when the peer closed the socket."""
    return _read_frame(sock.recv)


def _read_frame(read: Callable[[int], bytes]) -> Any | None:
    """One frame from a blocking byte source; None when it ends, even inside a frame."""
    header = _read_exactly(read, HEADER.size)
    if header is None:
        return None
    (length,) = HEADER.unpack(header)
    if length > MAX_FRAME:
        raise ValueError(f"frame of {length} bytes exceeds {MAX_FRAME}")
    payload = _read_exactly(read, length)
    return None if payload is None else loads(payload)


def _read_exactly(read: Callable[[int], bytes], size: int) -> bytes | None:
    chunks = bytearray()
    while len(chunks) < size:
        chunk = read(size - len(chunks))
        if not chunk:
            return None
        chunks += chunk
    return bytes(chunks)


class FrameReader:
    """Accumulates bytes from a non-blocking socket and yields complete frames."""

    def __init__(self) -> None:
        self._buffer = bytearray()

    def feed(self, data: bytes) -> list[Any]:
        self._buffer += data
        frames = []
        while len(self._buffer) >= HEADER.size:
            (length,) = HEADER.unpack_from(self._buffer)
            if length > MAX_FRAME:
                raise ValueError(f"frame of {length} bytes exceeds {MAX_FRAME}")
            end = HEADER.size + length
            if len(self._buffer) < end:
                break
            frames.append(loads(bytes(self._buffer[HEADER.size:end])))
            del self._buffer[:end]
        return frames
