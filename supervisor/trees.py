"""Whole-tree operations of the session store: list, copy (fork) and remove.

All three walk iteratively (`supervisor.walk`), so a tree thousands of levels
deep is no harder than a wide one, and all three tolerate entries vanishing or changing
type under them. They are called with descriptors the store resolved; none of them
follows a link.
"""

from __future__ import annotations

import errno
import os
import stat
import uuid
from dataclasses import dataclass, field
from typing import Any

from protocol.errors import ErrorCode, ServiceError
from protocol.models import MAX_LISTED
from supervisor.walk import DIR_FLAGS, MAX_DEPTH, Walk, display_name

MAX_SKIPPED_LISTED = 1_000  # paths named in a fork's `skipped`
COPY_CHUNK = 1 << 20
LISTED_KINDS = {"dir": "dir", "symlink": "symlink"}  # everything else is listed as a file


@dataclass
class Listing:
    entries: list[dict[str, Any]]
    truncated: bool


def list_tree(top_fd: int, limit: int = MAX_LISTED) -> Listing:
    """Every entry below `top_fd`, sorted by path, at most `limit` of them.

    `truncated` is true when entries were left out: more than `limit`, or a part of the
    tree the walk could not enter (deeper than MAX_DEPTH, unreadable). A name that is not
    UTF-8 is shown escaped and flagged `undecodable` (see `walk.display_name`).
    """
    walk = Walk(top_fd)
    entries: list[dict[str, Any]] = []
    truncated = False
    for item in walk:
        if len(entries) >= limit:
            truncated = True
            break
        path, undecodable = display_name("/".join(item.parts))
        entry: dict[str, Any] = {"path": path, "size": 0 if item.kind == "dir" else item.size,
                                 "kind": LISTED_KINDS.get(item.kind, "file")}
        if undecodable:
            entry["undecodable"] = True
        entries.append(entry)
    entries.sort(key=lambda e: e["path"])
    return Listing(entries, truncated or not walk.complete)


@dataclass
class CopyReport:
    skipped: list[str] = field(default_factory=list)  # what a copy cannot hold (sockets, devices)
    skipped_count: int = 0


def copy_tree(src_fd: int, dst_fd: int, owner: int | None) -> CopyReport:
    """Copy the tree below `src_fd` into the empty directory `dst_fd`.

    Regular files are copied with their permission bits, links as links, FIFOs as new
    FIFOs; sockets and device nodes cannot be copied (a socket is bound by a process, a
    device would need privilege) and are reported in `skipped`. An entry that vanishes
    while being copied is left out.

    Raises:
        ServiceError(TOO_LARGE): the tree is deeper than MAX_DEPTH levels.
        OSError: the copy itself failed (for instance the disk is full).
    """
    report = CopyReport()
    walk = Walk(src_fd)
    targets = [dst_fd]  # targets[d]: the copy of the directory at depth d of the walk
    try:
        for item in walk:
            depth = len(item.parts) - 1
            while len(targets) > depth + 1:
                os.close(targets.pop())
            if len(targets) < depth + 1:  # its directory could not be copied
                item.descend = False
                continue
            target = _copy_entry(item.parent_fd, targets[-1], item.name, item.kind, item.st, owner)
            if target == "skipped":
                report.skipped_count += 1
                if len(report.skipped) < MAX_SKIPPED_LISTED:
                    report.skipped.append(display_name("/".join(item.parts))[0])
            elif isinstance(target, int):
                targets.append(target)
    finally:
        for fd in targets[1:]:
            os.close(fd)
    if walk.too_deep:
        raise ServiceError(ErrorCode.TOO_LARGE,
                           f"the session's directories are nested deeper than {MAX_DEPTH} levels; "
                           "it cannot be forked")
    return report


def _copy_entry(src: int, dst: int, name: str, kind: str, st: os.stat_result | None,
                owner: int | None) -> int | str | None:
    """Copy one entry: the new directory's descriptor for a directory, "skipped" for what
    cannot be copied, None otherwise (also when the entry vanished)."""
    try:
        if kind == "dir":
            os.mkdir(name, 0o755, dir_fd=dst)
            _own(name, dst, owner)
            return os.open(name, DIR_FLAGS, dir_fd=dst)
        if kind == "symlink":
            os.symlink(os.readlink(name, dir_fd=src), name, dir_fd=dst)
            _own(name, dst, owner)
        elif kind == "file":
            assert st is not None
            _copy_file(src, dst, name, st.st_mode, owner)
        elif kind == "fifo":
            assert st is not None
            os.mkfifo(name, stat.S_IMODE(st.st_mode) & 0o777, dir_fd=dst)
            _own(name, dst, owner)
        else:
            return "skipped"
    except OSError as exc:
        if exc.errno not in (errno.ENOENT, errno.ENOTDIR, errno.ELOOP, errno.EINVAL, errno.ENXIO):
            raise
    return None


def _copy_file(src: int, dst: int, name: str, mode: int, owner: int | None) -> None:
    rfd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC, dir_fd=src)
    try:
        if not stat.S_ISREG(os.fstat(rfd).st_mode):  # swapped for something else since listed
            return
        wfd = os.open(name, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC,
                      stat.S_IMODE(mode) & 0o777, dir_fd=dst)
        try:
            if owner is not None:
                os.fchown(wfd, owner, owner)
            while os.copy_file_range(rfd, wfd, COPY_CHUNK):
                pass
        finally:
            os.close(wfd)
    finally:
        os.close(rfd)


def _own(name: str, dir_fd: int, owner: int | None) -> None:
    if owner is not None:
        os.chown(name, owner, owner, dir_fd=dir_fd, follow_symlinks=False)


MAX_REMOVE_PASSES = 256  # passes before a tree that keeps refilling is reported


def remove_tree(parent_fd: int, name: str) -> None:
    """Remove `name` (a directory or anything else) from `parent_fd`, whatever its depth.

    Iterative, depth-first; a directory deeper than MAX_DEPTH levels is first moved up
    beside the top (a rename within the tree), so descriptors stay bounded. Entries that
    appear while it runs are caught by another pass; an entry already gone is fine.

    Raises:
        OSError: the tree could not be removed (it kept refilling, or a permission).
    """
    for _ in range(MAX_REMOVE_PASSES):
        try:
            os.unlink(name, dir_fd=parent_fd)
            return
        except FileNotFoundError:
            return
        except IsADirectoryError:
            pass
        except PermissionError:  # some filesystems answer EPERM for unlink of a directory
            pass
        try:
            top = os.open(name, DIR_FLAGS, dir_fd=parent_fd)
        except FileNotFoundError:
            return
        except OSError as exc:
            if exc.errno in (errno.ENOTDIR, errno.ELOOP):
                continue  # became a file or link: the next pass unlinks it
            raise
        try:
            _empty(top)
        finally:
            os.close(top)
        try:
            os.rmdir(name, dir_fd=parent_fd)
            return
        except FileNotFoundError:
            return
        except OSError as exc:
            if exc.errno not in (errno.ENOTEMPTY, errno.EEXIST, errno.ENOTDIR):
                raise
    raise OSError(errno.ENOTEMPTY, f"{name} kept changing while it was removed")


def _empty(top: int) -> None:
    """Remove everything below the directory `top` (one pass)."""
    first = os.dup(top)
    try:
        stack: list[tuple[int, Any]] = [(first, os.scandir(first))]
    except OSError:
        os.close(first)
        raise
    try:
        while stack:
            fd, entries = stack[-1]
            entry = next(entries, None)
            if entry is None:
                entries.close()
                os.close(fd)
                stack.pop()
                continue
            try:
                os.unlink(entry.name, dir_fd=fd)
                continue
            except FileNotFoundError:
                continue
            except (IsADirectoryError, PermissionError):
                pass
            if len(stack) >= MAX_DEPTH:
                _move(fd, entry.name, top)
                continue
            try:
                sub = os.open(entry.name, DIR_FLAGS, dir_fd=fd)
            except OSError as exc:
                if exc.errno in (errno.ENOENT, errno.ENOTDIR, errno.ELOOP):
                    continue
                raise
            try:
                stack.append((sub, os.scandir(sub)))
            except OSError:
                os.close(sub)
                raise
            # The directory is removed once emptied: remember its name in its parent.
            stack[-1] = (sub, _RemoveWhenDone(stack[-1][1], fd, entry.name))
    finally:
        for fd, entries in stack:
            entries.close()
            os.close(fd)


class _RemoveWhenDone:
    """A directory listing that removes its directory from the parent when exhausted."""

    def __init__(self, entries: Any, parent_fd: int, name: str) -> None:
        self.entries, self.parent_fd, self.name = entries, parent_fd, name

    def __iter__(self) -> _RemoveWhenDone:
        return self

    def __next__(self) -> os.DirEntry[str]:
        try:
            return next(self.entries)
        except StopIteration:
            try:
                os.rmdir(self.name, dir_fd=self.parent_fd)
            except OSError:
                pass  # refilled or gone: the caller's next pass sees it
            raise

    def close(self) -> None:
        self.entries.close()


def _move(fd: int, name: str, top: int) -> None:
    """Move a directory that is too deep up to `top`, where a later pass removes it."""
    try:
        os.rename(name, f".deep-{uuid.uuid4().hex}", src_dir_fd=fd, dst_dir_fd=top)
    except FileNotFoundError:
        pass
