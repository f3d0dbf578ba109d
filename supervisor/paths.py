"""The one path resolver: every file operation of the session store goes through it.

Paths are split and checked lexically here (absolute paths, `..`, NUL bytes, over-long
paths are refused), then walked from the session's directory descriptor one component at
a time with O_NOFOLLOW, so that no symbolic link, however it was made, is ever followed.
"""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Iterator
from contextlib import contextmanager

from protocol.errors import ErrorCode, ServiceError

MAX_PATH = 4096
MAX_COMPONENT = 255
DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


def split(rel_path: str) -> list[str]:
    """Check a relative path and return its components.

    Raises:
        ServiceError(BAD_REQUEST): the path is empty, absolute, contains `..` or a NUL
            byte, or is too long. The detail says which rule was broken.
    """
    if "\x00" in rel_path:
        raise ServiceError(ErrorCode.BAD_REQUEST, "rel_path must not contain NUL bytes")
    try:
        encoded = rel_path.encode("utf-8")
    except UnicodeEncodeError:
        # A lone surrogate would reach the kernel as a raw byte: the file API names files
        # by UTF-8 text only (names that are not UTF-8 are listed escaped, see list_files).
        raise ServiceError(ErrorCode.BAD_REQUEST,
                           "rel_path must be valid Unicode text (it holds a lone surrogate)") from None
    if len(encoded) > MAX_PATH:
        raise ServiceError(ErrorCode.BAD_REQUEST, f"rel_path is longer than {MAX_PATH} bytes")
    if rel_path.startswith("/"):
        raise ServiceError(ErrorCode.BAD_REQUEST,
                           f"rel_path must be relative to the session directory, not absolute: {rel_path!r}")
    parts = [p for p in rel_path.split("/") if p not in ("", ".")]
    if ".." in parts:
        raise ServiceError(ErrorCode.BAD_REQUEST, f"rel_path must not contain '..': {rel_path!r}")
    if not parts:
        raise ServiceError(ErrorCode.BAD_REQUEST, "rel_path must name a file inside the session")
    for part in parts:
        if len(part.encode("utf-8")) > MAX_COMPONENT:
            raise ServiceError(ErrorCode.BAD_REQUEST, f"a path component is longer than {MAX_COMPONENT} bytes")
    return parts


def _explain(dir_fd: int, name: str, shown: str, exc: OSError) -> ServiceError:
    """Turn a failed open of `name` into the error a client should see."""
    try:
        mode = os.stat(name, dir_fd=dir_fd, follow_symlinks=False).st_mode
    except FileNotFoundError:
        return ServiceError(ErrorCode.NOT_FOUND, f"No such file or directory: {shown!r}")
    except OSError:
        mode = 0
    if stat.S_ISLNK(mode):
        return ServiceError(ErrorCode.BAD_REQUEST,
                            f"{shown!r} is a symbolic link; file operations never follow links")
    if exc.errno == errno.ENOTDIR or (mode and not stat.S_ISDIR(mode)):
        return ServiceError(ErrorCode.BAD_REQUEST, f"{shown!r} is not a directory")
    return ServiceError(ErrorCode.BAD_REQUEST, f"cannot open {shown!r}: {exc.strerror}")


@contextmanager
def parent_dir(session_fd: int, parts: list[str], create: bool, owner: int | None) -> Iterator[int]:
    """Yield a descriptor of the directory holding the last component of `parts`.

    Intermediate directories are created (owned by `owner`) when `create` is true;
    otherwise a missing one is NOT_FOUND. A symbolic link anywhere on the way is refused.
    """
    fds: list[int] = []
    current = session_fd
    try:
        for index, part in enumerate(parts[:-1]):
            shown = "/".join(parts[: index + 1])
            if create:
                try:
                    os.mkdir(part, 0o755, dir_fd=current)
                    if owner is not None:
                        os.chown(part, owner, owner, dir_fd=current, follow_symlinks=False)
                except FileExistsError:
                    pass
            try:
                current = os.open(part, DIR_FLAGS, dir_fd=current)
            except OSError as exc:
                raise _explain(current, part, shown, exc) from None
            fds.append(current)
        yield current
    finally:
        for fd in fds:
            os.close(fd)


def open_file(dir_fd: int, name: str, shown: str) -> int:
    """Open an existing regular file for reading without following a link or blocking on a FIFO."""
    try:
        fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC, dir_fd=dir_fd)
    except OSError as exc:
        raise _explain(dir_fd, name, shown, exc) from None
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise ServiceError(ErrorCode.BAD_REQUEST, f"{shown!r} is not a regular file")
    return fd


def lstat(dir_fd: int, name: str, shown: str) -> os.stat_result:
    try:
        return os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
    except FileNotFoundError:
        raise ServiceError(ErrorCode.NOT_FOUND, f"No such file or directory: {shown!r}") from None


def link_escapes(dir_fd: int, name: str, parts: list[str]) -> bool:
    """Whether the symbolic link `name` points outside the session (lexically)."""
    target = os.readlink(name, dir_fd=dir_fd)
    if target.startswith("/"):
        return True
    depth = len(parts) - 1
    for piece in target.split("/"):
        if piece == "..":
            depth -= 1
            if depth < 0:
                return True
        elif piece not in ("", "."):
            depth += 1
    return False
