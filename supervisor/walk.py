"""Iterative, link-safe walks of a directory tree that may change while it is walked.

Every tree operation of the service (listing, usage, fork's copy, removal) walks session
directories that user code can change at any moment, and that user code shaped: a tree
may be thousands of levels deep (recursion would overflow the Python stack), hold
hundreds of thousands of entries, have names that are not UTF-8, and lose or swap
entries under the walk. So the walk here

- is a loop over an explicit stack, holding one directory descriptor (plus the
  descriptor of its open listing) per level of the current path, never one per pending
  directory, and refusing to go deeper than `MAX_DEPTH` levels (the walk then says it is
  incomplete instead of exhausting descriptors);
- descends with O_NOFOLLOW | O_DIRECTORY relative to the parent's descriptor, so no link
  is followed whatever the tree turns into;
- skips an entry that vanished or changed type between being listed and being looked at,
  and says the walk is incomplete only when something other than such a change stopped
  it (a descriptor limit, a permission, the depth bound).

It lives in the sandbox package because the sandbox's disk watch uses it too; it imports
nothing but the standard library.
"""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Iterator

MAX_DEPTH = 2048  # levels; a path the file API can name has at most 2048 (4096 bytes of "a/")
DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
# What an entry changing under the walk looks like: gone, replaced by a non-directory or
# by a link (O_NOFOLLOW), or a directory being renamed into itself.
CHANGED = frozenset({errno.ENOENT, errno.ENOTDIR, errno.ELOOP, errno.EINVAL, errno.ENXIO})
_Open = tuple[int, Iterator[os.DirEntry[str]], tuple[str, ...]]  # an open directory: fd, entries, its parts

KINDS = ((stat.S_ISLNK, "symlink"), (stat.S_ISDIR, "dir"), (stat.S_ISREG, "file"),
         (stat.S_ISFIFO, "fifo"), (stat.S_ISSOCK, "socket"))


def kind_of(mode: int) -> str:
    """`file`, `dir`, `symlink`, `fifo`, `socket`, or `other` (devices)."""
    return next((name for test, name in KINDS if test(mode)), "other")


def display_name(name: str) -> tuple[str, bool]:
    """A name as text for a client, and whether it had to be escaped.

    Names come from the kernel as bytes, decoded with surrogateescape. A name that is not
    UTF-8 is shown with each undecodable byte as `\\xNN` (backslashreplace), and the
    flag tells a client that the shown text is not the name itself.
    """
    try:
        name.encode("utf-8")
        return name, False
    except UnicodeEncodeError:
        return name.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace"), True


class Item:
    """One entry met by a walk. `parent_fd` is valid only until the walk moves on."""

    __slots__ = ("parts", "kind", "st", "parent_fd", "descend")

    def __init__(self, parts: tuple[str, ...], kind: str, st: os.stat_result | None, parent_fd: int) -> None:
        self.parts = parts  # names from the top of the walk; the last is this entry's
        self.kind = kind
        self.st = st  # lstat of the entry; None for directories (not needed, not taken)
        self.parent_fd = parent_fd
        self.descend = True  # a caller may set it False to skip a directory's contents

    @property
    def name(self) -> str:
        return self.parts[-1]

    @property
    def size(self) -> int:
        return self.st.st_size if self.st is not None else 0


class Walk:
    """Depth-first walk below a directory descriptor, parents before their children.

    Iterate it once. Afterwards (or at any time) `complete` says whether every entry that
    stayed in place was seen, and `too_deep` whether the depth bound was what stopped it.
    Breaking out of the iteration early releases every descriptor it holds.
    """

    def __init__(self, top_fd: int, max_depth: int = MAX_DEPTH) -> None:
        self.top_fd = top_fd
        self.max_depth = max_depth
        self.complete = True
        self.too_deep = False

    def _problem(self, exc: OSError) -> None:
        """An entry could not be looked at: a change under the walk is skipped silently,
        anything else makes the walk incomplete."""
        if exc.errno not in CHANGED:
            self.complete = False

    def __iter__(self) -> Iterator[Item]:
        stack: list[_Open] = []
        try:
            top = os.dup(self.top_fd)
            try:
                stack.append((top, os.scandir(top), ()))
            except OSError as exc:
                os.close(top)
                self._problem(exc)
                return
            while stack:
                fd, entries, parts = stack[-1]
                try:
                    entry = next(entries)
                except StopIteration:
                    self._pop(stack)
                    continue
                except OSError as exc:  # the directory went away while being read
                    self._problem(exc)
                    self._pop(stack)
                    continue
                item = self._item(entry, fd, parts)
                if item is None:
                    continue
                yield item
                if item.kind == "dir" and item.descend:
                    self._push(stack, fd, item)
        finally:
            while stack:
                self._pop(stack)

    def _item(self, entry: os.DirEntry[str], fd: int, parts: tuple[str, ...]) -> Item | None:
        try:
            if entry.is_dir(follow_symlinks=False):
                return Item(parts + (entry.name,), "dir", None, fd)
            st = entry.stat(follow_symlinks=False)
        except OSError as exc:
            self._problem(exc)
            return None
        return Item(parts + (entry.name,), kind_of(st.st_mode), st, fd)

    def _push(self, stack: list[_Open], parent_fd: int, item: Item) -> None:
        if len(stack) > self.max_depth:
            self.complete = False
            self.too_deep = True
            return
        try:
            sub = os.open(item.name, DIR_FLAGS, dir_fd=parent_fd)
        except OSError as exc:
            self._problem(exc)
            return
        try:
            stack.append((sub, os.scandir(sub), item.parts))
        except OSError as exc:
            os.close(sub)
            self._problem(exc)

    @staticmethod
    def _pop(stack: list[_Open]) -> None:
        fd, entries, _ = stack.pop()
        entries.close()  # type: ignore[attr-defined]  # a scandir iterator, typed as the Iterator it is
        os.close(fd)
