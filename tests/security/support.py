"""Helpers of the attack tests: run a hostile program through the HTTP API, look at the
host from outside the sandbox, and check the limits before an exhaustion attack."""

from __future__ import annotations

import concurrent.futures
import os
import shlex
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests

from supervisor import cgroups
from tests.support.service import Service

HOSTILE = Path(__file__).resolve().parent / "hostile"


def hostile(name: str) -> str:
    """The text of a hostile program of tests/security/hostile."""
    return (HOSTILE / name).read_text()


def new_session(svc: Service, prefix: str = "sec") -> str:
    sid = f"{prefix}-{uuid.uuid4().hex[:12]}"
    svc.write(sid, "hello.txt", "hello\n")
    return sid


def run_hostile(svc: Service, session: str, name: str, *args: object, **extra: Any) -> dict[str, Any]:
    """Copy a hostile program into the session through the file API and run it with /run."""
    svc.write(session, f".hostile/{name}", hostile(name))
    interpreter = "sh" if name.endswith(".sh") else "python3"
    argv = " ".join(shlex.quote(str(a)) for a in args)
    return svc.run(session, f"{interpreter} .hostile/{name} {argv}".strip(), **extra)


def evaluate_hostile(svc: Service, name: str, entry_point: str, cases: list[tuple[str, str]] | None = None,
                     session: str = "scratch-sec", **extra: Any) -> dict[str, Any]:
    """Submit a hostile program as the code of /evaluate_code."""
    return svc.evaluate(hostile(name), entry_point, cases if cases is not None else [("", "None")],
                        session=session, **extra)


# --- the host, seen from outside ---------------------------------------------------------

def host_processes() -> list[tuple[int, int, str]]:
    """(pid, real uid, command line) of every process of the host."""
    found = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/cmdline", "rb") as f:
                cmdline = f.read().replace(b"\0", b" ").decode(errors="replace").strip()
            with open(f"/proc/{name}/status") as f:
                uid = next(int(line.split()[1]) for line in f if line.startswith("Uid:"))
        except (OSError, StopIteration):
            continue
        found.append((int(name), uid, cmdline))
    return found


def wait_until(condition: Callable[[], bool], timeout: float, interval: float = 0.05) -> bool:
    deadline = time.monotonic() + timeout
    while True:
        if condition():
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(interval)


def processes_matching(text: str) -> list[tuple[int, int, str]]:
    return [p for p in host_processes() if text in p[2]]


def assert_nothing_left(marker: str, timeout: float = 2.0) -> None:
    """No process of the host whose command line has `marker` survives (give the kernel
    `timeout` seconds to finish killing a pid namespace)."""
    assert wait_until(lambda: not processes_matching(marker), timeout), processes_matching(marker)


# --- exhaustion --------------------------------------------------------------------------

@dataclass
class Limits:
    """What a probe saw from inside a sandbox, plus the host's view of its cgroups."""

    uid: int
    cap_eff: int
    cap_prm: int
    no_new_privs: int
    nproc: str
    vmem: str
    sleepers: int
    cgroup_paths: dict[str, str]


def probe_limits(svc: Service, session: str, max_processes: int) -> Limits:
    result = run_hostile(svc, session, "probe_limits.sh", max_processes + 8, timeout=20)
    fields: dict[str, str] = {}
    paths: dict[str, str] = {}
    for line in result["stdout"].splitlines():
        key, _, value = line.partition("=") if "=" in line.split(":")[0] else line.partition(":")
        if key == "cgroup":
            _, names, path = value.split(":", 2)
            for n in (names.split(",") if names else ["unified"]):
                paths[n] = path
        else:
            fields[key.strip()] = value.strip()
    return Limits(uid=int(fields["uid"]), cap_eff=int(fields["CapEff"], 16), cap_prm=int(fields["CapPrm"], 16),
                  no_new_privs=int(fields["NoNewPrivs"]), nproc=fields["nproc"], vmem=fields["vmem"],
                  sleepers=int(fields["sleepers"]), cgroup_paths=paths)


def host_cgroup_limits(paths: dict[str, str]) -> dict[str, int]:
    """Read, on the host, the pids and memory limits of the cgroups a sandbox reported."""
    limits: dict[str, int] = {}
    for h in cgroups.hierarchies():
        if h.version == 1:
            for name, filename in (("pids", "pids.max"), ("memory", "memory.limit_in_bytes")):
                if name in h.controllers and name in paths:
                    raw = Path(h.mountpoint + paths[name], filename).read_text().strip()
                    limits[name] = int(raw) if raw.isdigit() else -1
        elif "unified" in paths:
            base = h.mountpoint + paths["unified"]
            for name, filename in (("pids", "pids.max"), ("memory", "memory.max")):
                file = Path(base, filename)
                if file.exists():
                    raw = file.read_text().strip()
                    limits.setdefault(name, int(raw) if raw.isdigit() else -1)
    return limits


def assert_limits_in_force(svc: Service, session: str, max_processes: int, memory_mb: int) -> None:
    """Refuse to go on (fail the test) unless the sandbox is really bounded.

    Run before a fork bomb, a memory bomb or `kill -9 -1`: on a machine where the limits
    silently did not apply these would hurt the machine running the tests.
    """
    seen = probe_limits(svc, session, max_processes)
    assert seen.uid != 0, f"sandboxed code runs as root: not sending the attack ({seen})"
    assert seen.cap_eff == 0 and seen.cap_prm == 0, f"sandboxed code holds capabilities ({seen})"
    assert seen.no_new_privs == 1, seen
    assert 0 < seen.sleepers <= max_processes, f"processes are not bounded by {max_processes} ({seen})"
    assert seen.vmem != "unlimited" and int(seen.vmem) <= memory_mb * 1024, f"memory is not bounded ({seen})"
    mode = svc.get("/readyz").json()["limits_mode"]
    if mode.startswith("cgroup"):
        limits = host_cgroup_limits(seen.cgroup_paths)
        assert limits.get("pids") == max_processes, f"the sandbox's cgroup has pids.max {limits} ({seen})"
        assert 0 < limits.get("memory", -1) < 64 << 30, f"the sandbox's cgroup has no memory limit {limits}"
    else:
        assert seen.nproc != "unlimited" and int(seen.nproc) <= max_processes, seen


@dataclass
class Responsiveness:
    """How the service answered while an attack ran."""

    ping_seconds: list[float]
    ready_seconds: list[float]
    result: Any


def while_attacking(svc: Service, attack: Callable[[], Any], settle: float = 0.7, pings: int = 4,
                    must_overlap: bool = True) -> Responsiveness:
    """Run `attack` (a request) in a thread and ping the service while it runs.

    `must_overlap=False` is for attacks the defence ends sooner than `settle`: the pings
    are then sent right after it instead.
    """
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        future = pool.submit(attack)
        time.sleep(settle)
        assert not (must_overlap and future.done()), "the attack ended before the service could be pinged during it"
        ping_times: list[float] = []
        ready_times: list[float] = []
        for _ in range(pings):
            if future.done() and ping_times:
                break
            started = time.monotonic()
            response = requests.get(svc.url + "/", timeout=5)
            ping_times.append(time.monotonic() - started)
            assert response.status_code == 200 and response.json() == "ping"
            started = time.monotonic()
            ready = requests.get(svc.url + "/readyz", timeout=5)
            ready_times.append(time.monotonic() - started)
            assert ready.status_code in (200, 503), ready.text
            time.sleep(0.15)
        return Responsiveness(ping_times, ready_times, future.result(timeout=180))


def assert_normal_evaluation(svc: Service) -> None:
    result = svc.evaluate("def add(a, b):\n    return a + b\n", "add", [("1, 2", "3"), ("-1, 1", "0")])
    assert result["passed"] is True, result
