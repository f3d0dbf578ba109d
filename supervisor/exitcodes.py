"""Every exit status the supervisor's processes give a meaning to, named in one place.

`ExitCode` is what `python -m supervisor` ends with: a process manager acts on it (the
systemd unit does not restart after `INVALID_SETTING` or `CANNOT_ISOLATE`, which a
restart cannot fix), and docs/operations.md lists it. `SandboxExit` is what the
processes inside a sandbox end with when it is not user code's status: nothing branches
on them, but a unit's shows as a command's `exit_code` or in a case's error, so they are
chosen apart from the statuses user code usually exits with.

No imports but `enum`: the sandbox code imports this module too.
"""

from __future__ import annotations

import enum


class ExitCode(enum.IntEnum):
    """How `python -m supervisor` ended."""

    OK = 0                # stopped by SIGTERM or SIGINT, after draining
    INVALID_SETTING = 2   # a REPL_* variable has a value that cannot be used
    CANNOT_ISOLATE = 3    # the machine cannot confine sandboxes and REPL_INSECURE is not set
    ALREADY_RUNNING = 4   # another supervisor holds the session root's or the endpoint's lock
    STARTUP_FAILED = 5    # binding the endpoint or starting the zygote failed
    UNAUTHENTICATED_ENDPOINT = 6  # a tcp:// endpoint without CurveZMQ keys and REPL_INSECURE not set
    UID_IN_USE = 7        # a process it did not start runs as the sandbox uid or the template uid


class SandboxExit(enum.IntEnum):
    """How a process of a sandbox ends when it is not user code's own status that counts."""

    DONE = 0               # a sandbox init that served its jobs, or was not reused
    NOT_READY = 1          # a sandbox init (or the zygote) that could not start; it said why first
    BROKEN = 120           # a unit or template failed before user code could run confined
    WITHOUT_RESULT = 121   # a sandbox init whose serve loop ended by an exception
    COMMAND_NOT_RUN = 127  # `/bin/sh` could not be executed for a command (the shell's own 127)
