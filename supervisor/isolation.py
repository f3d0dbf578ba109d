"""Can this machine isolate sandboxes? Checked once at start, so we fail closed.

The check forks a throw-away child that tries exactly what every sandbox will do
(unshare the mount, pid, net, ipc and uts namespaces); if that fails the supervisor
refuses to start unless REPL_INSECURE=1.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass

from supervisor.sandbox import libc

NAMESPACES = (libc.CLONE_NEWNS | libc.CLONE_NEWPID | libc.CLONE_NEWNET
              | libc.CLONE_NEWIPC | libc.CLONE_NEWUTS)


@dataclass(frozen=True)
class Mode:
    name: str      # "namespaces" or "insecure"
    limits: str    # how per-sandbox process and memory limits are enforced
    missing: str   # what the machine lacks, empty when isolation is available


def check(insecure_requested: bool) -> Mode:
    missing = _missing()
    if insecure_requested or missing:
        return Mode("insecure", "rlimits", missing)
    return Mode("namespaces", "rlimits", "")


def _missing() -> str:
    if not sys.platform.startswith("linux"):
        return f"Linux namespaces (this is {sys.platform})"
    if os.geteuid() != 0:
        return "root privileges (the supervisor runs as uid %d and cannot create namespaces " \
               "or switch sandboxes to an unprivileged uid)" % os.geteuid()
    pid = os.fork()
    if pid == 0:
        try:
            libc.unshare(NAMESPACES)
        except OSError:
            os._exit(1)
        os._exit(0)
    _, status = os.waitpid(pid, 0)
    if os.waitstatus_to_exitcode(status) != 0:
        return "permission to create mount, pid, net, ipc and uts namespaces (CAP_SYS_ADMIN)"
    return ""
