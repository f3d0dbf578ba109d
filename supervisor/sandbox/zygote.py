"""Runs in: the zygote.

The zygote: a small single-threaded process that forks every sandbox.

The supervisor runs ZeroMQ, whose I/O threads make forking it unsafe, so it starts this
process with a clean environment (nothing of the service's own variables can leak into a
sandbox, not even through /proc/self/environ) and asks it for sandboxes over a
SOCK_SEQPACKET socket whose fd number is the first argument. The zygote builds the
read-only sandbox root once, then for each pool slot forks a sandbox (`init`, which
serves job after job) into a fresh pid namespace and hands the supervisor one end of a
socket pair to talk to it. It reaps its children and reports their exit status and
resource usage.

Messages (JSON, one per packet):
    supervisor -> zygote: {"op": "spawn", "slot": N}
    zygote -> supervisor: {"op": "started", ...} once, {"op": "spawned", "pid": P, "slot": N}
        with the sandbox's socket attached, {"op": "exited", "pid": P, "status": S, ...}
"""

from __future__ import annotations

import gc
import importlib
import json
import logging
import os
import select
import signal
import socket
import sys
from typing import Any

from protocol import logformat
from supervisor.exitcodes import SandboxExit
from supervisor.sandbox import confine, init, libc, seccomp, template

log = logging.getLogger("supervisor.zygote")

def main() -> None:
    libc.prctl(libc.PR_SET_PDEATHSIG, signal.SIGKILL)
    # Sandboxes are made at low priority, from idle CPU: refilling the pool must not slow
    # down the jobs running now. A sandbox returns to normal priority when its job arrives.
    os.nice(init.PREPARE_NICE)
    control = socket.socket(fileno=int(sys.argv[1]))
    settings = json.loads(control.recv(1 << 20))
    _log_like_the_supervisor(settings.get("log_format", "text"))
    try:
        zygote = Zygote(control, settings)
    except Exception as exc:  # noqa: BLE001 - reported, then the supervisor refuses to start
        _send(control, {"op": "started", "ok": False, "error": f"{type(exc).__name__}: {exc}"})
        sys.exit(SandboxExit.NOT_READY)
    _send(control, {"op": "started", "ok": True})
    zygote.loop()


def _log_like_the_supervisor(format: str) -> None:  # noqa: A002
    """The zygote's stderr is the supervisor's: its few lines take the same format, so a
    JSON log stays JSON. Only its own logger: the root logger is left as Python makes it,
    since user code runs in processes forked from this one and may configure logging."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logformat.make_formatter(format, "supervisor"))
    log.addHandler(handler)
    log.propagate = False


def _send(control: socket.socket, message: dict[str, Any], fds: list[int] | None = None) -> None:
    data = json.dumps(message).encode()
    if fds:
        socket.send_fds(control, [data], fds)
    else:
        control.send(data)


def preload(modules: list[str]) -> None:
    """Import the operator's REPL_PRELOAD_MODULES once, here, so that every sandbox,
    template and case shares them (copy-on-write) and an `import` of them costs nothing.

    A module that fails to import is skipped: user code importing it gets the error.
    """
    for name in modules:
        try:
            importlib.import_module(name)
        except BaseException as exc:  # noqa: BLE001 - an operator's typo must not stop the service
            log.warning("zygote: cannot preload %r: %s: %s", name, type(exc).__name__, exc)


class Zygote:
    def __init__(self, control: socket.socket, settings: dict[str, Any]) -> None:
        self.control = control
        self.insecure = bool(settings["insecure"])
        self.root_fd = os.open(settings["session_root"], os.O_PATH | os.O_DIRECTORY)
        self.cgroup_fds = {int(slot): [os.open(p, os.O_WRONLY) for p in paths]
                           for slot, paths in settings.get("cgroup_procs", {}).items()}
        self.config = init.SandboxConfig(
            uid=settings["uid"], insecure=self.insecure, session_root=settings["session_root"],
            tmp_size_mb=settings["tmp_size_mb"], max_processes=settings["max_processes"],
            max_open_files=settings["max_open_files"], cap_last=confine.read_cap_last(),
            environment=confine.sandbox_environment(), max_jobs=settings["max_jobs"])
        self.pidns_fd = os.open("/proc/self/ns/pid", os.O_RDONLY)
        seccomp.use(bytes.fromhex(settings.get("seccomp_program", "")))
        preload(settings.get("preload_modules", []))
        if not self.insecure:
            confine.build_root(settings["session_root"], settings.get("hidden_dirs", []))
        self.wake_r, self.wake_w = os.pipe()
        os.set_blocking(self.wake_w, False)
        signal.set_wakeup_fd(self.wake_w)
        signal.signal(signal.SIGCHLD, lambda *_: None)
        # Everything allocated so far is shared with every fork; moved out of the
        # collector's reach, a collection in a child does not touch (and copy) its pages.
        gc.freeze()

    def loop(self) -> None:
        poller = select.poll()
        poller.register(self.control.fileno(), select.POLLIN)
        poller.register(self.wake_r, select.POLLIN)
        while True:
            for fd, _ in poller.poll():
                if fd == self.wake_r:
                    os.read(self.wake_r, 4096)
                    self.reap()
                else:
                    data = self.control.recv(65536)
                    if not data:
                        return  # the supervisor is gone; our death kills every sandbox
                    request = json.loads(data)
                    if request.get("op") == "spawn":
                        self.spawn(int(request["slot"]))

    def spawn(self, slot: int) -> None:
        parent_end, child_end = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        if not self.insecure:
            # The next child becomes pid 1 of a new pid namespace; then point
            # pid_ns_for_children back at our own so the one after gets a fresh one too.
            libc.unshare(libc.CLONE_NEWPID)
        pid = os.fork()
        if pid == 0:
            self._become_sandbox(parent_end, child_end, slot)
        if not self.insecure:
            libc.setns(self.pidns_fd, libc.CLONE_NEWPID)
        child_end.close()
        _send(self.control, {"op": "spawned", "pid": pid, "slot": slot}, [parent_end.fileno()])
        parent_end.close()

    def _become_sandbox(self, parent_end: socket.socket, child_end: socket.socket, slot: int) -> None:
        try:
            # Into the slot's cgroups first, before this process forks anything: in cgroup
            # v1 a process moved later would leave its children (the worker prepared at
            # once) outside, free of the limits. "0" is the writer itself.
            for fd in self.cgroup_fds.get(slot, []):
                os.write(fd, b"0")
            signal.set_wakeup_fd(-1)
            libc.prctl(libc.PR_SET_PDEATHSIG, signal.SIGKILL)
            for fd in [self.wake_r, self.wake_w, self.pidns_fd, self.control.fileno(),
                       parent_end.fileno(), *(f for fds in self.cgroup_fds.values() for f in fds)]:
                os.close(fd)
            init.serve(child_end, self.root_fd, self.config)
        finally:
            os._exit(SandboxExit.WITHOUT_RESULT)

    def reap(self) -> None:
        for exited in template.reap_children():
            _send(self.control, exited)


if __name__ == "__main__":
    main()
