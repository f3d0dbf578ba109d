"""The session store: the only code that touches session files.

A session is a directory under the session root named by its id, owned by the sandbox
uid so sandboxed commands can change it. Every operation resolves paths through
`supervisor.paths` (descriptor walks, O_NOFOLLOW), writes atomically through a temporary
file and `os.replace`, and keeps the per-session disk usage that the quota is checked
against.
"""

from __future__ import annotations

import base64
import binascii
import collections
import os
import re
import shutil
import stat
import time
import uuid
from contextlib import contextmanager
from typing import Any, Iterator

from protocol.errors import ErrorCode, ServiceError
from protocol.models import SESSION_ID_PATTERN
from supervisor import paths
from supervisor.sandbox.usage import disk_usage

_SESSION_NAME = re.compile(SESSION_ID_PATTERN)
MAX_LISTED = 100_000
COPY_CHUNK = 1 << 20


def _missing(session_id: str) -> ServiceError:
    return ServiceError(ErrorCode.NOT_FOUND, f"Session {session_id!r} does not exist")


class SessionStore:
    """Sessions on disk. Single-threaded: called from the supervisor's loop only."""

    def __init__(self, root: str, owner: int | None, quota_bytes: int, max_read_bytes: int) -> None:
        os.makedirs(root, mode=0o711, exist_ok=True)
        self.root = root
        self.root_fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY)
        self.owner = owner
        self.quota = quota_bytes
        self.max_read = max_read_bytes
        self._usage: dict[str, int] = {}
        self._measuring: collections.Counter[str] = collections.Counter()  # jobs whose usage is due
        self._remove_leftovers()

    def _remove_leftovers(self) -> None:
        """Remove what a killed supervisor left half-made: forks not yet renamed into
        place and scratch directories. Safe at start only (the caller holds the session
        root's lock, so no other supervisor is using them)."""
        for name in os.listdir(self.root_fd):
            if name.startswith((".fork-", ".scratch-")):
                shutil.rmtree(name, dir_fd=self.root_fd, ignore_errors=True)

    # --- sessions ----------------------------------------------------------------------

    def exists(self, session_id: str) -> bool:
        try:
            return stat.S_ISDIR(os.stat(session_id, dir_fd=self.root_fd, follow_symlinks=False).st_mode)
        except FileNotFoundError:
            return False

    @contextmanager
    def session(self, session_id: str, create: bool = False) -> Iterator[int]:
        """Yield the session's directory fd, creating the session if asked."""
        if create:
            self.create(session_id)
        try:
            fd = os.open(session_id, paths.DIR_FLAGS, dir_fd=self.root_fd)
        except FileNotFoundError:
            raise _missing(session_id) from None
        try:
            os.utime(fd)  # last use, for the idle TTL; survives restarts
            yield fd
        finally:
            os.close(fd)

    def touch(self, session_id: str) -> None:
        """Mark the session used now, for the idle TTL."""
        with self.session(session_id):
            pass

    def create(self, session_id: str | None = None) -> str:
        session_id = session_id or str(uuid.uuid4())
        try:
            os.mkdir(session_id, 0o755, dir_fd=self.root_fd)
            self._own(session_id, self.root_fd)
        except FileExistsError:
            pass
        return session_id

    def delete(self, session_id: str) -> None:
        if not self.exists(session_id):
            raise _missing(session_id)
        shutil.rmtree(session_id, dir_fd=self.root_fd)
        self._usage.pop(session_id, None)

    def create_scratch(self) -> str:
        """A throw-away directory for an evaluation without a session (insecure mode only:
        with namespaces the sandbox gets a tmpfs instead). Its name is not a valid id."""
        name = f".scratch-{uuid.uuid4().hex}"
        os.mkdir(name, 0o755, dir_fd=self.root_fd)
        self._own(name, self.root_fd)
        return name

    def remove_scratch(self, name: str) -> None:
        shutil.rmtree(name, dir_fd=self.root_fd, ignore_errors=True)

    def ids(self) -> list[str]:
        return [name for name in os.listdir(self.root_fd) if _SESSION_NAME.match(name)]

    def idle_since(self, session_id: str) -> float:
        """When the session was last used: the mtime of its directory, which every
        operation on it sets (see `session`) and which therefore survives restarts."""
        return os.stat(session_id, dir_fd=self.root_fd, follow_symlinks=False).st_mtime

    def sweep(self, ttl: float, busy: set[str]) -> list[str]:
        """Remove sessions idle for longer than `ttl` seconds.

        Sessions in `busy` (a job of theirs is running or queued) are in use: they are
        marked used now instead, so their idle time starts when their jobs end.
        """
        cutoff = time.time() - ttl
        removed = []
        for session_id in self.ids():
            try:
                if session_id in busy:
                    self.touch(session_id)
                elif self.idle_since(session_id) < cutoff:
                    self.delete(session_id)
                    removed.append(session_id)
            except (OSError, ServiceError):
                continue
        return removed

    # --- quota -------------------------------------------------------------------------

    # The usage of a session is kept in memory and updated by every write; it is measured
    # from the disk when unknown (after a start or a delete) and while a job runs in the
    # session: a command may change the files at any moment, and the job's own measurement
    # (`record_usage`) arrives only after its reply, so a client's next write must not be
    # checked against the usage from before the job.

    def usage(self, session_id: str, session_fd: int) -> int:
        if session_id in self._measuring or session_id not in self._usage:
            self._usage[session_id] = disk_usage(session_fd)
        return self._usage[session_id]

    def remaining(self, session_id: str) -> int:
        """The allowance of a job starting now in the session: the bytes it may still grow
        by (0 for a missing session), which becomes the job's RLIMIT_FSIZE.

        The usage counts as changing until the job's measurement arrives (`record_usage`).
        """
        try:
            with self.session(session_id) as fd:
                left = max(self.quota - self.usage(session_id, fd), 0)
        except ServiceError:
            return 0
        self._measuring[session_id] += 1
        return left

    def record_usage(self, session_id: str, used: int) -> None:
        """Called when a job in the session has finished and measured its disk usage.

        The end of a job is also a use of the session, so the idle TTL restarts from it.
        A session deleted while the job ran stays deleted.
        """
        self._measuring[session_id] -= 1
        if self._measuring[session_id] <= 0:
            del self._measuring[session_id]
        try:
            self.touch(session_id)
        except ServiceError:
            self._usage.pop(session_id, None)
            return
        self._usage[session_id] = used

    def settle(self, busy: set[str]) -> None:
        """Forget the measurements still awaited from jobs that are gone (a sandbox that
        died reports none): sessions without a job in the pool (`busy`) are at rest."""
        for session_id in [s for s in self._measuring if s not in busy]:
            del self._measuring[session_id]

    # --- files -------------------------------------------------------------------------

    def read(self, session_id: str, rel_path: str, encoding: str) -> str:
        parts = paths.split(rel_path)
        with self.session(session_id) as sfd, paths.parent_dir(sfd, parts, False, None) as dfd:
            fd = paths.open_file(dfd, parts[-1], rel_path)
            try:
                if os.fstat(fd).st_size > self.max_read:
                    raise ServiceError(ErrorCode.TOO_LARGE,
                                       f"{rel_path!r} is larger than {self.max_read} bytes; read it with /run instead")
                data = _read_all(fd, self.max_read)
            finally:
                os.close(fd)
        if encoding == "base64":
            return base64.b64encode(data).decode("ascii")
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError:
            raise ServiceError(ErrorCode.BAD_REQUEST,
                               f"{rel_path!r} is not UTF-8 text; read it with encoding=base64") from None

    def write(self, session_id: str, rel_path: str, content: str, encoding: str) -> None:
        parts = paths.split(rel_path)
        data = _decode_content(content, encoding)
        with self.session(session_id, create=True) as sfd, paths.parent_dir(sfd, parts, True, self.owner) as dfd:
            name = parts[-1]
            old_size = self._existing_size(dfd, name, rel_path)
            used = self.usage(session_id, sfd)
            if used - old_size + len(data) > self.quota:
                raise ServiceError(
                    ErrorCode.TOO_LARGE,
                    f"writing {len(data)} bytes would pass the session's disk quota of {self.quota} bytes "
                    f"({used} used); delete files first")
            self._replace(dfd, name, data)
            self._usage[session_id] = used - old_size + len(data)

    def _existing_size(self, dir_fd: int, name: str, shown: str) -> int:
        try:
            st = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
        except FileNotFoundError:
            return 0
        if stat.S_ISLNK(st.st_mode):
            raise ServiceError(ErrorCode.BAD_REQUEST,
                               f"{shown!r} is a symbolic link; file operations never follow links")
        if not stat.S_ISREG(st.st_mode):
            raise ServiceError(ErrorCode.BAD_REQUEST, f"{shown!r} exists and is not a regular file")
        return st.st_size

    def _replace(self, dir_fd: int, name: str, data: bytes) -> None:
        """Write to a temporary file beside the target, then rename it over the target,
        so a reader sees the old content or the new, and a failure leaves the old."""
        temp = f".tmp-{uuid.uuid4().hex}"
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o644,
                     dir_fd=dir_fd)
        try:
            try:
                if self.owner is not None:
                    os.fchown(fd, self.owner, self.owner)
                view = memoryview(data)
                while view:
                    view = view[os.write(fd, view):]
            finally:
                os.close(fd)
            os.replace(temp, name, src_dir_fd=dir_fd, dst_dir_fd=dir_fd)
        except BaseException:
            try:
                os.unlink(temp, dir_fd=dir_fd)
            except OSError:
                pass
            raise

    def delete_file(self, session_id: str, rel_path: str) -> None:
        parts = paths.split(rel_path)
        with self.session(session_id) as sfd, paths.parent_dir(sfd, parts, False, None) as dfd:
            name = parts[-1]
            st = paths.lstat(dfd, name, rel_path)
            if stat.S_ISLNK(st.st_mode) and paths.link_escapes(dfd, name, parts):
                raise ServiceError(ErrorCode.BAD_REQUEST, f"{rel_path!r} is a symbolic link pointing outside the session")
            if stat.S_ISDIR(st.st_mode):
                shutil.rmtree(name, dir_fd=dfd)
            else:
                os.unlink(name, dir_fd=dfd)
            self._usage.pop(session_id, None)

    def rename(self, session_id: str, old_path: str, new_path: str) -> None:
        old_parts, new_parts = paths.split(old_path), paths.split(new_path)
        with self.session(session_id) as sfd, \
                paths.parent_dir(sfd, old_parts, False, None) as old_dfd, \
                paths.parent_dir(sfd, new_parts, True, self.owner) as new_dfd:
            st = paths.lstat(old_dfd, old_parts[-1], old_path)
            if stat.S_ISLNK(st.st_mode) and (paths.link_escapes(old_dfd, old_parts[-1], old_parts)
                                             or paths.link_escapes(old_dfd, old_parts[-1], new_parts)):
                raise ServiceError(ErrorCode.BAD_REQUEST, f"{old_path!r} is a symbolic link pointing outside the session")
            self._existing_size(new_dfd, new_parts[-1], new_path)  # refuses a link or special file as target
            try:
                os.rename(old_parts[-1], new_parts[-1], src_dir_fd=old_dfd, dst_dir_fd=new_dfd)
            except OSError as exc:
                raise ServiceError(ErrorCode.BAD_REQUEST,
                                   f"cannot rename {old_path!r} to {new_path!r}: {exc.strerror}") from None

    def list(self, session_id: str) -> list[dict[str, Any]]:
        with self.session(session_id) as sfd:
            entries: list[dict[str, Any]] = []
            _walk(sfd, "", entries)
        entries.sort(key=lambda e: e["path"])
        return entries

    def fork(self, session_id: str) -> str:
        """Copy the session to a new id. The copy is made under a hidden name and renamed
        into place, so nobody sees a half-made session; links are copied as links."""
        new_id = str(uuid.uuid4())
        temp = f".fork-{new_id}"
        with self.session(session_id) as sfd:
            os.mkdir(temp, 0o755, dir_fd=self.root_fd)
            try:
                self._own(temp, self.root_fd)
                dst = os.open(temp, paths.DIR_FLAGS, dir_fd=self.root_fd)
                try:
                    self._copy_tree(sfd, dst)
                finally:
                    os.close(dst)
                os.rename(temp, new_id, src_dir_fd=self.root_fd, dst_dir_fd=self.root_fd)
            except BaseException:
                shutil.rmtree(temp, dir_fd=self.root_fd, ignore_errors=True)
                raise
        return new_id

    def _copy_tree(self, src: int, dst: int) -> None:
        with os.scandir(src) as entries:
            for entry in entries:
                name = entry.name
                if entry.is_symlink():
                    os.symlink(os.readlink(name, dir_fd=src), name, dir_fd=dst)
                    self._own(name, dst)
                elif entry.is_dir(follow_symlinks=False):
                    os.mkdir(name, 0o755, dir_fd=dst)
                    self._own(name, dst)
                    sub_src = os.open(name, paths.DIR_FLAGS, dir_fd=src)
                    sub_dst = os.open(name, paths.DIR_FLAGS, dir_fd=dst)
                    try:
                        self._copy_tree(sub_src, sub_dst)
                    finally:
                        os.close(sub_src)
                        os.close(sub_dst)
                elif entry.is_file(follow_symlinks=False):
                    self._copy_file(src, dst, name, entry.stat(follow_symlinks=False).st_mode)

    def _copy_file(self, src: int, dst: int, name: str, mode: int) -> None:
        rfd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC, dir_fd=src)
        try:
            wfd = os.open(name, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC,
                          stat.S_IMODE(mode) & 0o777, dir_fd=dst)
            try:
                if self.owner is not None:
                    os.fchown(wfd, self.owner, self.owner)
                while os.copy_file_range(rfd, wfd, COPY_CHUNK):
                    pass
            finally:
                os.close(wfd)
        finally:
            os.close(rfd)

    def _own(self, name: str, dir_fd: int) -> None:
        if self.owner is not None:
            os.chown(name, self.owner, self.owner, dir_fd=dir_fd, follow_symlinks=False)


def _walk(dir_fd: int, prefix: str, out: list[dict[str, Any]]) -> None:
    with os.scandir(dir_fd) as entries:
        for entry in entries:
            if len(out) >= MAX_LISTED:
                return
            path = prefix + entry.name
            st = entry.stat(follow_symlinks=False)
            if entry.is_symlink():
                out.append({"path": path, "size": st.st_size, "kind": "symlink"})
            elif entry.is_dir(follow_symlinks=False):
                out.append({"path": path, "size": 0, "kind": "dir"})
                sub = os.open(entry.name, paths.DIR_FLAGS, dir_fd=dir_fd)
                try:
                    _walk(sub, path + "/", out)
                finally:
                    os.close(sub)
            else:
                out.append({"path": path, "size": st.st_size, "kind": "file"})


def _read_all(fd: int, limit: int) -> bytes:
    chunks = []
    total = 0
    while True:
        chunk = os.read(fd, COPY_CHUNK)
        if not chunk:
            return b"".join(chunks)
        total += len(chunk)
        if total > limit:
            raise ServiceError(ErrorCode.TOO_LARGE, f"file is larger than {limit} bytes")
        chunks.append(chunk)


def _decode_content(content: str, encoding: str) -> bytes:
    if encoding == "base64":
        try:
            return base64.b64decode(content, validate=True)
        except (binascii.Error, ValueError):
            raise ServiceError(ErrorCode.BAD_REQUEST, "content is not valid base64") from None
    try:
        return content.encode("utf-8")
    except UnicodeEncodeError:
        raise ServiceError(ErrorCode.BAD_REQUEST, "content contains unpaired surrogates; send it as base64") from None
