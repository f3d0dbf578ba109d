"""Runs in: the supervisor, once at start.

The sandbox uid (`REPL_SANDBOX_UID`) and the template uid after it must be this
supervisor's alone. There is no user namespace: uid 60000 in a sandbox is uid 60000 on
the host. Any other process of either uid could signal or trace sandboxed processes
(docs/security.md), and counts against the `RLIMIT_NPROC` every sandbox forks under,
which the kernel counts per uid over the whole machine: with another service, or another
supervisor's sandboxes, under the same uids, templates cannot fork units. So the
supervisor refuses to start while a process it did not start holds either uid; at that
point it has started none.

It looks twice, because `/proc` shows only its own pid namespace (in a container, the
container's processes). `/proc` names the holders it can see. Then, for each uid, a
throw-away child becomes that uid with a process limit of two and forks once: the kernel
counts every process of the uid wherever it runs, so the fork fails if and only if some
other process (on the host, in another container) holds the uid.
"""

from __future__ import annotations

import logging
import os
import resource
import time
from dataclasses import dataclass

log = logging.getLogger("supervisor.uids")

WAIT = 3.0      # seconds given to the processes of a supervisor that has just died to finish dying
INTERVAL = 0.1
SHOWN = 3       # holders named in the message
_ALONE, _HELD, _PROBE_FAILED = 0, 1, 2


class UidInUse(Exception):
    """Another process holds the sandbox uid or the template uid: the message says which."""


@dataclass(frozen=True)
class Holder:
    """A process, visible in /proc, that runs as one of the uids."""

    pid: int
    name: str
    uids: tuple[int, ...]  # real, effective, saved, filesystem

    def __str__(self) -> str:
        return f"pid {self.pid} ({self.name}, uids {'/'.join(map(str, self.uids))})"


def claim(sandbox_uid: int, wait: float = WAIT) -> None:
    """Return when no other process holds `sandbox_uid` or the template uid after it.

    Holders are given `wait` seconds to go: a supervisor restarted right after it died
    may still see its predecessor's sandboxes exiting.

    Raises:
        UidInUse: a process still holds either uid after `wait` seconds.
    """
    uids = (sandbox_uid, sandbox_uid + 1)
    deadline = time.monotonic() + wait
    while True:
        seen = holders(uids)
        unseen = [] if seen else [uid for uid in uids if held_elsewhere(uid)]
        if not seen and not unseen:
            return
        if time.monotonic() >= deadline:
            raise UidInUse(_explain(sandbox_uid, seen, unseen))
        time.sleep(INTERVAL)


def holders(uids: tuple[int, ...]) -> list[Holder]:
    """The processes in this pid namespace with any of `uids` as a real, effective, saved
    or filesystem uid."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/status") as f:
                fields = dict(line.split(":", 1) for line in f if ":" in line)
        except OSError:
            continue  # gone meanwhile
        ids = tuple(int(v) for v in fields.get("Uid", "").split())
        if any(uid in uids for uid in ids):
            found.append(Holder(int(entry), fields.get("Name", "?").strip(), ids))
    return found


def held_elsewhere(uid: int) -> bool:
    """Does any process but a probe of ours hold `uid` as its real uid, anywhere on the
    machine (whether or not this pid namespace shows it)?

    Raises:
        OSError: the probe could not become `uid` (the isolation check has ruled that out).
    """
    pid = os.fork()
    if pid == 0:
        os._exit(_probe(uid))
    _, status = os.waitpid(pid, 0)
    code = os.waitstatus_to_exitcode(status)
    if code not in (_ALONE, _HELD):
        raise OSError(f"the probe of uid {uid} failed (status {code})")
    return code == _HELD


def _probe(uid: int) -> int:
    """In a throw-away child: become `uid` with RLIMIT_NPROC 2 and fork once. This child
    is one process of the uid, the fork would be the second: it fails (EAGAIN) if and
    only if a third holds the uid. Root's privileges, which lift the limit, go with the
    uid change."""
    try:
        resource.setrlimit(resource.RLIMIT_NPROC, (2, 2))
        os.setgroups([])
        os.setresgid(uid, uid, uid)
        os.setresuid(uid, uid, uid)
        try:
            child = os.fork()
        except BlockingIOError:
            return _HELD
        if child == 0:
            os._exit(0)
        os.waitpid(child, 0)
        return _ALONE
    except BaseException:  # noqa: BLE001 - reported as a failed probe
        return _PROBE_FAILED


def _explain(sandbox_uid: int, seen: list[Holder], unseen: list[int]) -> str:
    if seen:
        shown = ", ".join(str(h) for h in seen[:SHOWN]) + (f" and {len(seen) - SHOWN} more" if len(seen) > SHOWN
                                                          else "")
        who = f"{shown} {'runs' if len(seen) == 1 else 'run'} as one of them"
    else:
        who = (f"a process outside this supervisor's view (on the host or in another container) runs as uid "
               f"{' and '.join(map(str, unseen))}")
    return (f"REPL_SANDBOX_UID={sandbox_uid}: sandboxes run as uid {sandbox_uid} and their templates as uid "
            f"{sandbox_uid + 1}, which must be this supervisor's alone, but {who}. Another supervisor on this "
            "host? Give each its own REPL_SANDBOX_UID, two apart (60000, 60002, ...); else stop that process "
            "or pick uids nothing else uses")
