"""The interpreter user code runs on (`REPL_SANDBOX_PYTHON`), checked once at start.

By default sandboxes fork from a zygote running the service's own interpreter, so user
code can import whatever the service has installed (flask, pyzmq, pydantic...) and an
operator who wants numpy for user code must install it into the service. With
`REPL_SANDBOX_PYTHON` set (a virtualenv's `bin/python3`, say), the zygote runs on that
interpreter instead: every sandbox, template and case is a fork of it, `python3` in
`/run` is it, and the service's own package directories that it does not use itself are
covered with empty directories in the sandbox image, so user code cannot import the
service's packages even by adding their directory to `sys.path`.

The zygote needs nothing outside the standard library and this checkout; the seccomp
filter, compiled with libseccomp's bindings that the sandbox interpreter may lack, is
compiled here and handed over (`seccomp.use`).
"""

from __future__ import annotations

import json
import os
import site
import subprocess
import sys
from dataclasses import dataclass

MINIMUM = (3, 11)
PROBE_TIMEOUT = 30.0
# What the probe prints: the interpreter's version and where it imports from.
_PROBE = ("import json, sys; print(json.dumps({'version': list(sys.version_info[:2]), "
          "'path': [p for p in sys.path if p], 'prefix': sys.prefix}))")
# Every sandbox mounts its own empty /tmp and /dev/shm over these.
SCRATCH_DIRS = ("/tmp", "/dev/shm")


class RuntimeUnusable(Exception):
    """REPL_SANDBOX_PYTHON cannot serve: the message says why and what to do."""


@dataclass(frozen=True)
class Runtime:
    """The sandboxes' interpreter and the service's directories to hide from it."""

    python: str
    hidden: tuple[str, ...] = ()


def resolve(configured: str) -> Runtime:
    """The runtime for the setting's value (empty: the service's own interpreter).

    Raises:
        RuntimeUnusable: the interpreter cannot be run or is older than 3.11.
    """
    if not configured:
        return Runtime(python=sys.executable)
    if not os.access(configured, os.X_OK) or os.path.isdir(configured):
        raise RuntimeUnusable(f"REPL_SANDBOX_PYTHON={configured} is not an executable file")
    probe = _probe(configured)
    if tuple(probe["version"]) < MINIMUM:
        raise RuntimeUnusable(f"REPL_SANDBOX_PYTHON={configured} is Python "
                              f"{'.'.join(map(str, probe['version']))}; sandboxes need 3.11 or later")
    prefix = os.path.realpath(probe["prefix"])
    if any(prefix == d or prefix.startswith(d + "/") for d in SCRATCH_DIRS):
        raise RuntimeUnusable(f"REPL_SANDBOX_PYTHON={configured} lives in {prefix}, under a directory every "
                              "sandbox replaces with an empty one of its own; put the virtualenv elsewhere "
                              "(e.g. /opt/sandbox-python)")
    return Runtime(python=configured, hidden=_service_only_dirs(probe["path"]))


def _probe(python: str) -> dict:
    try:
        done = subprocess.run([python, "-I", "-c", _PROBE], capture_output=True, text=True,  # noqa: S603
                              timeout=PROBE_TIMEOUT, env={"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"},
                              check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise RuntimeUnusable(f"REPL_SANDBOX_PYTHON={python} cannot be run: {exc}") from None
    if done.returncode != 0:
        raise RuntimeUnusable(f"REPL_SANDBOX_PYTHON={python} failed: {done.stderr.strip()[-300:]}")
    try:
        probe: dict = json.loads(done.stdout)
    except ValueError:
        raise RuntimeUnusable(f"REPL_SANDBOX_PYTHON={python} printed {done.stdout[:200]!r}") from None
    return probe


def _service_only_dirs(sandbox_path: list[str]) -> tuple[str, ...]:
    """The service interpreter's package directories the sandbox interpreter does not use."""
    theirs = {os.path.realpath(p) for p in sandbox_path}
    ours = [*site.getsitepackages(), site.getusersitepackages()]
    return tuple(sorted({os.path.realpath(p) for p in ours if os.path.isdir(p)} - theirs))
