"""Runs in: the init.

The directories the init makes for one job's units and takes away after it: the program
of program cases (`programs`) and a checker's or interactor's files (`judges`). Each is
a small tmpfs of its own in the sandbox's mount namespace, so nothing of it outlives the
job; without namespaces (insecure mode) a private directory of the host's /tmp instead.
"""

from __future__ import annotations

import os
import shutil
import tempfile

from supervisor.sandbox import libc

FLAGS = libc.MS_NOSUID | libc.MS_NODEV


def make_directory(mount_point: str, size_kb: int, mode: int, insecure: bool, prefix: str) -> str:
    """A new empty directory for the job (`mode`, e.g. 0o755): a tmpfs of `size_kb` KiB
    mounted at `mount_point`, or with `insecure` a directory under the host's /tmp named
    from `prefix`; its path."""
    if insecure:
        directory = tempfile.mkdtemp(prefix=prefix)
        os.chmod(directory, mode)
        return directory
    libc.mount("tmpfs", mount_point, "tmpfs", FLAGS, f"size={size_kb}k,mode={mode:o}")
    return mount_point


def write_file(path: str, data: bytes, mode: int, exclusive: bool = False) -> None:
    """Write `data` as the whole of the file at `path` (never through a link; with
    `exclusive`, a file that must not exist yet)."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_NOFOLLOW | (os.O_EXCL if exclusive else os.O_TRUNC)
    fd = os.open(path, flags, mode)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]
    finally:
        os.close(fd)


def remove_directory(directory: str, insecure: bool) -> None:
    """Take a job's directory away (every unit that used it is dead by now)."""
    if insecure:
        shutil.rmtree(directory, ignore_errors=True)
        return
    libc.umount(directory, libc.MNT_DETACH)
