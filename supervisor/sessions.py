"""The session store: the only code that touches session files.

A session is a directory under the session root named by its id, owned by the sandbox
uid so sandboxed commands can change it. Every operation resolves paths through
`supervisor.paths` (descriptor walks, O_NOFOLLOW), writes atomically through a temporary
file and `os.replace`, and keeps the per-session disk usage that the quota is checked
against.

Thread safety: the supervisor runs the heavy operations (fork, delete, list, a write
that must measure the usage) on worker threads, ordered per session by
`supervisor.lanes`, which never runs two store operations of one session at once. What
sessions share, the in-memory usage bookkeeping, is guarded by a lock here.
"""

from __future__ import annotations

import base64
import binascii
import collections
import os
import re
import stat
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

from protocol.errors import ErrorCode, ServiceError
from protocol.models import SESSION_ID_PATTERN
from supervisor import paths, trees
from supervisor.sandbox.usage import UNMEASURABLE, Usage, measure

_SESSION_NAME = re.compile(SESSION_ID_PATTERN)
COPY_CHUNK = 1 << 20
_LEFTOVERS = (".fork-", ".scratch-", ".trash-")


def _missing(session_id: str) -> ServiceError:
    return ServiceError(ErrorCode.NOT_FOUND, f"Session {session_id!r} does not exist")


class SessionStore:
    """Sessions on disk. Operations on different sessions may run on different threads."""

    def __init__(self, root: str, owner: int | None, quota_bytes: int, max_read_bytes: int) -> None:
        os.makedirs(root, mode=0o711, exist_ok=True)
        self.root = root
        self.root_fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY)
        self.owner = owner
        self.quota = quota_bytes
        self.max_read = max_read_bytes
        self._usage: dict[str, Usage] = {}
        self._measuring: collections.Counter[str] = collections.Counter()  # jobs whose usage is due
        self._lock = threading.Lock()  # guards _usage and _measuring
        self._remove_leftovers()

    def _remove_leftovers(self) -> None:
        """Remove what a killed supervisor left half-made: forks not yet renamed into
        place, scratch directories, and sessions being deleted. Safe at start only (the
        caller holds the session root's lock, so no other supervisor is using them)."""
        for name in os.listdir(self.root_fd):
            if name.startswith(_LEFTOVERS):
                self._remove_quietly(name)

    def _remove_quietly(self, name: str) -> None:
        try:
            trees.remove_tree(self.root_fd, name)
        except OSError:
            pass

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
        """Remove a session. It is renamed away first, so it is gone for everyone at once
        (a later write makes a new, empty session), then its tree is removed.

        The caller orders this after the session's running jobs (`supervisor.lanes`): a
        command still writing into the tree would only make the removal take longer.
        """
        trash = f".trash-{uuid.uuid4().hex}"
        try:
            os.rename(session_id, trash, src_dir_fd=self.root_fd, dst_dir_fd=self.root_fd)
        except FileNotFoundError:
            raise _missing(session_id) from None
        with self._lock:
            self._usage.pop(session_id, None)
        try:
            trees.remove_tree(self.root_fd, trash)
        except OSError as exc:
            raise ServiceError(ErrorCode.UNAVAILABLE,
                               f"the session was deleted but removing its files failed ({exc.strerror}); "
                               "they are removed when the supervisor restarts") from None

    def create_scratch(self) -> str:
        """A throw-away directory for an evaluation without a session (insecure mode only:
        with namespaces the sandbox gets a tmpfs instead). Its name is not a valid id."""
        name = f".scratch-{uuid.uuid4().hex}"
        os.mkdir(name, 0o755, dir_fd=self.root_fd)
        self._own(name, self.root_fd)
        return name

    def remove_scratch(self, name: str) -> None:
        self._remove_quietly(name)

    def ids(self) -> list[str]:
        return [name for name in os.listdir(self.root_fd) if _SESSION_NAME.match(name)]

    def idle_since(self, session_id: str) -> float:
        """When the session was last used: the mtime of its directory, which every
        operation on it sets (see `session`) and which therefore survives restarts."""
        return os.stat(session_id, dir_fd=self.root_fd, follow_symlinks=False).st_mtime

    def expired(self, ttl: float, busy: set[str]) -> list[str]:
        """The sessions idle for longer than `ttl` seconds, to be removed (`expire`).

        Sessions in `busy` (an operation or job of theirs is running or queued) are in
        use: they are marked used now instead, so their idle time starts when they end.
        """
        cutoff = time.time() - ttl
        due = []
        for session_id in self.ids():
            try:
                if session_id in busy:
                    self.touch(session_id)
                elif self.idle_since(session_id) < cutoff:
                    due.append(session_id)
            except (OSError, ServiceError):
                continue
        return due

    def expire(self, session_id: str, ttl: float) -> bool:
        """Remove the session if it is still idle for longer than `ttl`; whether it was."""
        try:
            if self.idle_since(session_id) >= time.time() - ttl:
                return False
        except FileNotFoundError:
            return False
        try:
            self.delete(session_id)
        except ServiceError as exc:
            return exc.code is ErrorCode.UNAVAILABLE  # renamed away: gone for clients
        return True

    # --- quota -------------------------------------------------------------------------

    # The usage of a session is kept in memory and updated by every write; it is measured
    # from the disk when unknown (after a start or a delete) and while a job runs in the
    # session: a command may change the files at any moment, and the job's own measurement
    # (`record_usage`) arrives only after its reply, so a client's next write must not be
    # checked against the usage from before the job.

    # A measurement that could not finish (`usage.measure`: too many entries to count in
    # time, or directories nested too deep) counts as a full session: writes are refused
    # and jobs get no allowance until files are removed, so no byte hides from the quota.

    def needs_measure(self, session_id: str) -> bool:
        """Whether the next quota check must walk the session (the slow path, which the
        supervisor runs off its loop)."""
        with self._lock:
            return session_id in self._measuring or session_id not in self._usage

    def usage(self, session_id: str, session_fd: int) -> Usage:
        if self.needs_measure(session_id):
            measured = measure(session_fd)
            with self._lock:
                self._usage[session_id] = measured
            return measured
        with self._lock:
            return self._usage[session_id]

    def remaining(self, session_id: str) -> int:
        """The allowance of a job starting now in the session: the bytes it may still grow
        by (0 for a missing session, or one whose usage cannot be measured), which becomes
        the job's RLIMIT_FSIZE.

        The usage counts as changing until the job's measurement arrives (`record_usage`).
        """
        try:
            with self.session(session_id) as fd:
                usage = self.usage(session_id, fd)
                left = max(self.quota - usage.used, 0) if usage.complete else 0
        except ServiceError:
            return 0
        with self._lock:
            self._measuring[session_id] += 1
        return left

    def record_usage(self, session_id: str, used: int) -> None:
        """Called when a job in the session has finished and measured its disk usage
        (UNMEASURABLE when its count could not finish).

        The end of a job is also a use of the session, so the idle TTL restarts from it.
        A session deleted while the job ran stays deleted.
        """
        with self._lock:
            self._measuring[session_id] -= 1
            if self._measuring[session_id] <= 0:
                del self._measuring[session_id]
        try:
            self.touch(session_id)
        except ServiceError:
            with self._lock:
                self._usage.pop(session_id, None)
            return
        measured = Usage(used, True) if used < UNMEASURABLE else Usage(0, False, "it could not be counted in time")
        with self._lock:
            self._usage[session_id] = measured

    def settle(self, busy: set[str]) -> None:
        """Forget the measurements still awaited from jobs that are gone (a sandbox that
        died reports none): sessions without a job in the pool (`busy`) are at rest."""
        with self._lock:
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
            usage = self.usage(session_id, sfd)
            if not usage.complete:
                raise ServiceError(
                    ErrorCode.TOO_LARGE,
                    f"the session's disk usage cannot be measured ({usage.why}), so it counts as past its "
                    f"disk quota of {self.quota} bytes; delete files first")
            used = usage.used
            if used - old_size + len(data) > self.quota:
                raise ServiceError(
                    ErrorCode.TOO_LARGE,
                    f"writing {len(data)} bytes would pass the session's disk quota of {self.quota} bytes "
                    f"({used} used); delete files first")
            self._replace(dfd, name, data)
            with self._lock:
                self._usage[session_id] = Usage(used - old_size + len(data), True)

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
                raise ServiceError(ErrorCode.BAD_REQUEST,
                                   f"{rel_path!r} is a symbolic link pointing outside the session")
            try:
                trees.remove_tree(dfd, name)
            except OSError as exc:
                raise ServiceError(ErrorCode.BAD_REQUEST,
                                   f"cannot delete {rel_path!r}: {exc.strerror}") from None
            finally:
                with self._lock:
                    self._usage.pop(session_id, None)

    def rename(self, session_id: str, old_path: str, new_path: str) -> None:
        old_parts, new_parts = paths.split(old_path), paths.split(new_path)
        with self.session(session_id) as sfd, \
                paths.parent_dir(sfd, old_parts, False, None) as old_dfd, \
                paths.parent_dir(sfd, new_parts, True, self.owner) as new_dfd:
            st = paths.lstat(old_dfd, old_parts[-1], old_path)
            if stat.S_ISLNK(st.st_mode) and (paths.link_escapes(old_dfd, old_parts[-1], old_parts)
                                             or paths.link_escapes(old_dfd, old_parts[-1], new_parts)):
                raise ServiceError(ErrorCode.BAD_REQUEST,
                                   f"{old_path!r} is a symbolic link pointing outside the session")
            self._existing_size(new_dfd, new_parts[-1], new_path)  # refuses a link or special file as target
            try:
                os.rename(old_parts[-1], new_parts[-1], src_dir_fd=old_dfd, dst_dir_fd=new_dfd)
            except OSError as exc:
                raise ServiceError(ErrorCode.BAD_REQUEST,
                                   f"cannot rename {old_path!r} to {new_path!r}: {exc.strerror}") from None

    def list(self, session_id: str) -> trees.Listing:
        """Every entry of the session (at most `trees.MAX_LISTED`), sorted by path."""
        with self.session(session_id) as sfd:
            return trees.list_tree(sfd)

    def fork(self, session_id: str, new_id: str | None = None) -> tuple[str, trees.CopyReport]:
        """Copy the session to `new_id` (default a new UUID4); return it and what could not
        be copied. The web tier passes a `new_id` that routes to this supervisor
        (`protocol.routing`); one that names an existing session is refused.

        The copy is made under a hidden name and renamed into place, so nobody sees a
        half-made session. It is one consistent snapshot because the caller runs it with
        no job of the session running and no other operation of the session in between
        (`supervisor.lanes`).
        """
        new_id = new_id or str(uuid.uuid4())
        if self.exists(new_id):
            raise ServiceError(ErrorCode.BAD_REQUEST, f"Session {new_id!r} already exists")
        temp = f".fork-{new_id}"
        with self.session(session_id) as sfd:
            os.mkdir(temp, 0o755, dir_fd=self.root_fd)
            try:
                self._own(temp, self.root_fd)
                dst = os.open(temp, paths.DIR_FLAGS, dir_fd=self.root_fd)
                try:
                    report = trees.copy_tree(sfd, dst, self.owner)
                finally:
                    os.close(dst)
                os.rename(temp, new_id, src_dir_fd=self.root_fd, dst_dir_fd=self.root_fd)
            except OSError as exc:
                self._remove_quietly(temp)
                raise ServiceError(ErrorCode.UNAVAILABLE, f"the fork could not be made: {exc.strerror}") from None
            except BaseException:
                self._remove_quietly(temp)
                raise
        with self._lock:
            known = self._usage.get(session_id)
            if known is not None and session_id not in self._measuring:
                self._usage[new_id] = known
        return new_id, report

    def _own(self, name: str, dir_fd: int) -> None:
        if self.owner is not None:
            os.chown(name, self.owner, self.owner, dir_fd=dir_fd, follow_symlinks=False)


def _read_all(fd: int, limit: int) -> bytes:
    chunks: list[bytes] = []
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
