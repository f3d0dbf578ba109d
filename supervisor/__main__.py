"""`python -m supervisor`: start the supervisor daemon.

Checks that the machine can isolate sandboxes (refusing to start otherwise unless
REPL_INSECURE=1), takes the locks that keep a second supervisor off the same sessions and
endpoint, makes sure no other process holds the sandbox uids, starts the zygote, and runs
the poll loop until SIGTERM.
"""

from __future__ import annotations

import logging
import os
import sys

from protocol import logformat, settings
from protocol.budget import exclusive_wait
from supervisor import curve, isolation, runtime, uids
from supervisor.exitcodes import ExitCode
from supervisor.lanes import Lanes
from supervisor.operations import Context
from supervisor.pool import Pool
from supervisor.sandbox import confine, seccomp
from supervisor.server import Server, lock
from supervisor.sessions import SessionStore

log = logging.getLogger("supervisor")
STORE_THREADS = 2  # heavy store operations (fork, delete, list) run at once, off the loop


def main() -> int:
    try:
        config = settings.load()
    except ValueError as exc:
        print(f"supervisor: {exc}", file=sys.stderr)
        return ExitCode.INVALID_SETTING
    logformat.configure(config.log_format, config.log_level, tag="supervisor")
    try:
        sandbox_runtime = runtime.resolve(config.sandbox_python)
    except runtime.RuntimeUnusable as exc:
        log.error("refusing to start: %s", exc)
        return ExitCode.INVALID_SETTING
    try:
        curve.check(config)
    except curve.CurveRefused as exc:
        log.error("refusing to start: %s", exc)
        return ExitCode.UNAUTHENTICATED_ENDPOINT
    if config.supervisor_endpoint.startswith("tcp://") and not curve.configured(config):
        log.warning("!!! %s accepts operations from anyone who reaches it (REPL_INSECURE=1, no CurveZMQ keys) !!!",
                    config.supervisor_endpoint)
    mode = isolation.check(config)
    if mode.missing and not config.insecure:
        log.error("refusing to start: this machine cannot isolate sandboxes: %s. "
                  "Run as root (or with CAP_SYS_ADMIN) on Linux with namespaces, "
                  "or set REPL_INSECURE=1 to run user code without isolation (never in production).",
                  mode.missing)
        return ExitCode.CANNOT_ISOLATE
    if mode.name == "insecure":
        log.warning("!!! REPL_INSECURE=1: user code runs WITHOUT isolation (%s). Never expose this service. !!!",
                    mode.missing or "namespaces switched off")
    if mode.cgroups is None:
        log.warning("per-sandbox limits: rlimits only: %s", mode.limits_detail)
    else:
        log.info("per-sandbox limits: %s", mode.limits_detail)
    os.makedirs(config.session_root, mode=0o711, exist_ok=True)
    try:
        locks = [lock(os.path.join(config.session_root, ".supervisor.lock"))]
        if config.supervisor_endpoint.startswith("ipc://"):
            locks.append(lock(config.supervisor_endpoint[len("ipc://"):] + ".lock"))
    except RuntimeError as exc:
        log.error("refusing to start: %s", exc)
        return ExitCode.ALREADY_RUNNING
    # Session files belong to the uid user code runs as; without the privilege to switch
    # uids (insecure mode) that is the supervisor's own, and nothing is chowned.
    owner = config.sandbox_uid if confine.can_switch_uid() else None
    closed = isolation.closed_ancestor(config.session_root, owner) if mode.name == "insecure" and owner else None
    if closed is not None:
        log.error("refusing to start: with REPL_INSECURE=1 user code runs as uid %d in the session directories "
                  "where they lie, and it may not enter %s (mode %o) on the way to REPL_SESSION_ROOT %s: put "
                  "the session root under directories every user may enter (o+x), e.g. /var/lib/repl/sessions",
                  owner, closed, os.stat(closed).st_mode & 0o7777, config.session_root)
        return ExitCode.INVALID_SETTING
    if owner is not None:
        try:
            uids.claim(owner)
        except uids.UidInUse as exc:
            log.error("refusing to start: %s", exc)
            return ExitCode.UID_IN_USE
    store = SessionStore(config.session_root, owner, config.disk_quota_mb << 20, config.max_body_bytes)
    server: Server | None = None
    pool = Pool(
        _zygote_settings(config, mode, sandbox_runtime),
        config.pool_size, config.max_concurrent_jobs, config.max_queue,
        register=lambda fd: server.poller.register(fd, 1),  # type: ignore[union-attr]
        unregister=lambda fd: server.poller.unregister(fd))  # type: ignore[union-attr]
    lanes = Lanes(STORE_THREADS, exclusive_wait=exclusive_wait(config))
    ctx = Context(config=config, store=store, pool=pool, isolation=mode.name, limits_mode=mode.limits,
                  lanes=lanes)
    server = Server(ctx, config.supervisor_endpoint, drain_seconds=config.max_run_timeout + 5)
    try:
        server.bind()
        pool.start()
    except curve.CurveRefused as exc:
        log.error("refusing to start: %s", exc)
        return ExitCode.UNAUTHENTICATED_ENDPOINT
    except Exception as exc:  # noqa: BLE001 - startup failures end the process with a message
        log.error("refusing to start: %s", exc)
        pool.stop()
        return ExitCode.STARTUP_FAILED
    log.info("supervisor ready on %s: curve=%s isolation=%s limits=%s seccomp=%s pool=%d sessions=%s",
             config.supervisor_endpoint, "on" if server.auth else "off", mode.name, mode.limits,
             mode.seccomp or "off", config.pool_size,
             config.session_root)
    try:
        server.serve()
    finally:
        pool.stop()
        del locks
    return ExitCode.OK


def _zygote_settings(config: settings.Config, mode: isolation.Mode, sandbox_runtime: runtime.Runtime) -> dict:
    """What the zygote needs to fork and confine sandboxes.

    `max_processes` becomes each sandboxed process's RLIMIT_NPROC. That limit counts every
    process of the one sandbox uid, across all sandboxes, so with per-slot cgroups (where
    `pids.max` is the real per-sandbox bound) it is raised to cover every slot; without
    them it stays REPL_MAX_PROCESSES, shared by all sandboxes.
    """
    return {
        "insecure": mode.name == "insecure", "session_root": config.session_root, "uid": config.sandbox_uid,
        "tmp_size_mb": config.tmp_size_mb, "max_processes": config.max_processes * mode.nproc_limit_factor,
        "max_open_files": config.max_open_files, "max_jobs": config.sandbox_max_jobs,
        "cgroup_procs": mode.cgroups.procs if mode.cgroups is not None else {},
        "preload_modules": list(config.preload_modules),
        "log_format": config.log_format,
        "python": sandbox_runtime.python,
        "hidden_dirs": list(sandbox_runtime.hidden),
        "seccomp_program": seccomp.program().hex(),
    }


if __name__ == "__main__":
    sys.exit(main())
