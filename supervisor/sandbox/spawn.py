"""Runs in: the template (`start`) and the init (`raise_oom_score`, `script`).

A command unit (a `/run` command, a program's `cmd` or its compile step), spawned.

A forked unit is a copy of the template's interpreter: forking it, running Python in the
copy (every object touched copies a page) and tearing the copy down again in `execve` is
most of what a `/run echo hi` costs. A command needs none of that interpreter, so the
template spawns it (a vfork: no copy of its memory, and no Python in the child). Each
step `unit.become` takes for a forked unit happens here too, in this order:

1. The template sets its real uid to the sandbox uid (its effective uid already is; its
   saved uid stays the template uid, so it can set the real one back, and so that no
   process of the sandbox uid could trace it or read its /proc meanwhile; no such process
   exists then either, as every one is killed between units, and those of other
   sandboxes cannot name it from their own pid namespaces), vforks, and sets its real
   uid back once the child has exec'd and been given its limits (2). The child runs in
   the template's namespaces, cgroup, seccomp filter and no-new-privs, as a forked unit
   does; in it, in C, before its `execve` of `/bin/sh` running the preamble: the stdin,
   stdout and stderr pipes onto 0, 1 and 2, every other descriptor closed, SIGPIPE and
   SIGXFSZ back to their defaults, a session of its own (`setsid`). The `execve` makes
   the saved uid the effective one: real, effective and saved are the sandbox uid alone,
   as `setresuid` made them in a forked unit (and as real and effective match, it is no
   secure-exec: the environment passes whole).
2. The template, its real uid still the sandbox uid (the kernel lets a process set the
   limits of one whose three uids and gids are its real ones), lowers the child's `CPU`,
   `AS`, `FSIZE` and `NPROC` limits to the unit's with `prlimit(2)`, to the byte, while
   the preamble waits for its script: nothing of the command is in the process yet. (A
   shell's `ulimit -f` counts 512-byte blocks; the init, without CAP_SYS_RESOURCE in a
   container, may not set another uid's limits.)
3. The preamble moves into the session directory (exit `SandboxExit.BROKEN` if it cannot,
   as a forked unit did), ignores SIGXFSZ (an oversize write fails with EFBIG instead; an
   ignored signal stays ignored across `exec`), and waits on its stdin for the one line of
   script that says what to run.
4. The init, once the template has said the pid, raises the child's `oom_score_adj` to
   500 and writes the script, then the command's own stdin.
5. The script drops what the preamble's shell added to the environment (`PWD`,
   `OLDPWD`), exports the unit's own environment and `exec`s the command's argv
   (`/bin/sh -c cmd`), which thus starts with the environment, descriptors, limits and
   signal dispositions a forked unit gave it.

The template never sees the command: it learns a working directory and limits only, and
the script goes from the init to the child on the command's stdin pipe (the preamble's
`read` takes the script's line byte by byte, so the command's stdin starts right after it).
"""

from __future__ import annotations

import _posixsubprocess
import os
import re
import resource
import shlex
import signal
import time
from collections.abc import Mapping, Sequence

from supervisor.exitcodes import SandboxExit
from supervisor.sandbox import messages

SHELL = "/bin/sh"
BROKEN = int(SandboxExit.BROKEN)
# The preamble: `n` holds a newline, for the script's one line to quote newlines with; `s`
# and `n` are not exported.
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")


Limit = tuple[int, int, int]  # an rlimit: resource, soft, hard
_CREDENTIALS_WAIT = 0.5  # seconds: far longer than an exec takes to commit its credentials


def start(fds: Sequence[int], environment: Sequence[bytes], uid: int | None, argv: Sequence[str],
          limits: Sequence[Limit]) -> int:
    """Spawn a command unit's preamble with its `limits` (in the template, whose real and
    saved uid are the template uid); its pid. `fds`: its stdin, stdout and stderr; `uid`:
    the sandbox uid, None to keep the template's own (insecure mode without root).

    Raises:
        OSError: no process was made, it could not exec the shell, or its limits could
            not be set (then it is killed); nothing ran.
    """
    if uid is None:
        return _limited(_spawn(fds, environment, argv), limits)
    template_uid = os.getresuid()[0]
    os.setresuid(uid, -1, -1)
    try:
        return _limited(_spawn(fds, environment, argv), limits)
    finally:
        os.setresuid(template_uid, -1, -1)


def _limited(pid: int, limits: Sequence[Limit]) -> int:
    """Set the waiting child's limits; on failure kill it (it has run only the preamble's
    first line, which waits for the script) and raise.

    The kernel lets the vfork parent go (and closes the error pipe) a moment before the
    exec commits the child's credentials: until then its saved uid is still the
    template's and `prlimit` is refused, so a refusal is tried again for a while."""
    deadline = time.monotonic() + _CREDENTIALS_WAIT
    try:
        for kind, soft, hard in limits:
            while True:
                try:
                    resource.prlimit(pid, kind, (soft, hard))
                    break
                except PermissionError:
                    if time.monotonic() > deadline:
                        raise
                    os.sched_yield()
    except OSError:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        raise
    return pid


def _spawn(fds: Sequence[int], environment: Sequence[bytes], argv: Sequence[str]) -> int:
    """`_posixsubprocess.fork_exec` (what `subprocess` uses) with vfork: the parent waits,
    sharing its memory, until the child has exec'd or failed, and the child runs C only.
    (glibc's `posix_spawn` would leave the two real-time signals it keeps for itself
    ignored in the child, and so in the command.)"""
    stdin, stdout, stderr = fds
    args = [os.fsencode(a) for a in argv]
    errpipe_read, errpipe_write = os.pipe()
    try:
        pid = _posixsubprocess.fork_exec(
            args, (args[0],),
            True, (errpipe_write,),  # close every descriptor but 0, 1, 2 (and the close-on-exec error pipe)
            "/", list(environment),  # the template's own directory; the preamble moves to the session
            stdin, -1, -1, stdout, -1, stderr, errpipe_read, errpipe_write,
            True,  # restore_signals: SIGPIPE and SIGXFSZ back to SIG_DFL (the preamble ignores SIGXFSZ again)
            True,  # call_setsid
            -1, None, None, None,  # no process group, gid, groups or uid to set (see `start`)
            -1,  # the umask as it is
            None,  # type: ignore[arg-type]  # no preexec_fn, no Python in the child (subprocess passes None too)
            True)  # vfork
    finally:
        os.close(errpipe_write)
    try:
        failed = os.read(errpipe_read, 256)  # the child has exec'd (EOF) or written why not
    finally:
        os.close(errpipe_read)
    if failed:
        raise OSError(failed.decode(errors="replace"))
    return pid


def environment_list(environment: Mapping[str, str]) -> list[bytes]:
    """The sandbox's environment as `execve` takes it."""
    return [os.fsencode(k) + b"=" + os.fsencode(v) for k, v in environment.items()]


def rlimits(limits: messages.UnitLimits, max_processes: int) -> list[Limit]:
    """The unit's limits, as `unit.become` lowers them: never above what the template has."""
    cpu_hard = limits.cpu_hard_seconds or limits.cpu_seconds + 1
    result = []
    for kind, soft, hard in ((resource.RLIMIT_CPU, limits.cpu_seconds, cpu_hard),
                             (resource.RLIMIT_AS, limits.memory_bytes, limits.memory_bytes),
                             (resource.RLIMIT_FSIZE, limits.max_file_bytes, limits.max_file_bytes),
                             (resource.RLIMIT_NPROC, max_processes, max_processes)):
        ceiling = resource.getrlimit(kind)[1]
        if ceiling != resource.RLIM_INFINITY:
            hard = min(hard, ceiling)
        result.append((kind, min(soft, hard), hard))
    return result


def arguments(cwd: str) -> list[str]:
    """The preamble's shell."""
    preamble = (f"cd -P -- {shlex.quote(cwd)} 2>/dev/null || exit {BROKEN}; trap '' XFSZ; n='\n'; "
                f"IFS= read -r s || exit {BROKEN}; eval \"$s\"; exit {BROKEN}")
    return [SHELL, "-c", preamble]


def raise_oom_score(pid: int) -> None:
    """oom_score_adj 500 for the waiting child (in the init, which may write it as root;
    raising it needs no capability): user code first in line for the OOM killer."""
    try:
        fd = os.open(f"/proc/{pid}/oom_score_adj", os.O_WRONLY)
    except OSError:
        return  # a preference for the OOM killer, not a protection: never fatal
    try:
        os.write(fd, b"500")
    except OSError:
        pass
    finally:
        os.close(fd)


def script(unit: messages.RunUnit | messages.ExecUnit) -> bytes:
    """The line the preamble runs: the unit's environment, then `exec` of its argv. A
    command that cannot be executed (a NUL byte, a name that is no variable's) exits with
    `SandboxExit.COMMAND_NOT_RUN`, as `execve` refusing it did."""
    if isinstance(unit, messages.RunUnit):
        argv: Sequence[str] = (SHELL, "-c", unit.cmd)
        environment: Mapping[str, str] = {}
    else:
        argv, environment = unit.argv, unit.environment
    if not all(_NAME.match(k) for k in environment):
        return b"exit %d\n" % SandboxExit.COMMAND_NOT_RUN
    try:
        exports = b"".join(b"export " + os.fsencode(k) + b"=" + _quote(os.fsencode(v)) + b"; "
                           for k, v in environment.items())
        words = b" ".join(_quote(os.fsencode(a)) for a in argv)
    except (ValueError, UnicodeError):
        return b"exit %d\n" % SandboxExit.COMMAND_NOT_RUN
    return b"unset PWD OLDPWD; " + exports + b"exec " + words + b"\n"


def _quote(word: bytes) -> bytes:
    """`word` as one shell word on one line: single-quoted, with each newline outside the
    quotes as `"$n"`."""
    if b"\0" in word:
        raise ValueError("NUL byte")
    return b"'" + word.replace(b"'", b"'\\''").replace(b"\n", b"'\"$n\"'") + b"'"
