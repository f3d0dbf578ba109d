"""Disk usage of a session, as counted against its quota."""

from __future__ import annotations

import os

MAX_ENTRIES = 200_000


def disk_usage(dir_fd: int) -> int:
    """Apparent size of the regular files below a directory descriptor.

    Descends with O_NOFOLLOW descriptors, so links are never followed even when the tree
    changes under the walk; stops after MAX_ENTRIES entries so a directory bomb cannot
    stall the caller.
    """
    total, seen = 0, 0
    stack = [os.dup(dir_fd)]
    while stack and seen < MAX_ENTRIES:
        fd = stack.pop()
        try:
            with os.scandir(fd) as entries:
                for entry in entries:
                    seen += 1
                    if entry.is_dir(follow_symlinks=False):
                        try:
                            stack.append(os.open(entry.name, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW, dir_fd=fd))
                        except OSError:
                            continue
                    elif entry.is_file(follow_symlinks=False):
                        total += entry.stat(follow_symlinks=False).st_size
        finally:
            os.close(fd)
    for fd in stack:
        os.close(fd)
    return total
