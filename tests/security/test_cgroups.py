"""Per-sandbox cgroups (supervisor/cgroups.py): found on either cgroup version, really in
force (peers shipped limits that silently did not apply on a cgroup version their code did
not expect), per sandbox rather than per uid, and cleaned up when the supervisor stops."""

from __future__ import annotations

import concurrent.futures
import os
import shutil
from pathlib import Path

import pytest

from protocol import settings
from supervisor import cgroups, isolation
from tests.security.conftest import TIGHT
from tests.security.support import host_cgroup_limits, probe_limits
from tests.support.service import Service, start_service


def machine_has_cgroups() -> bool:
    if os.geteuid() != 0:
        return False
    found = cgroups.hierarchies()
    v1 = {n for h in found if h.version == 1 for n in h.controllers}
    v2 = {n for h in found if h.version == 2 for n in h.controllers}
    return {"pids", "memory"} <= v1 or {"pids", "memory"} <= v2


needs_cgroups = pytest.mark.skipif(not machine_has_cgroups(), reason="no usable cgroups here: rlimits only")


def write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def test_hierarchies_of_cgroup_v1(tmp_path: Path):
    mountinfo = write(tmp_path / "mountinfo", (
        "31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755\n"
        "32 31 0:29 / /sys/fs/cgroup/cpu,cpuacct rw,relatime - cgroup cgroup rw,cpu,cpuacct\n"
        "35 31 0:32 /docker/abc /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory\n"
        "39 31 0:36 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids\n"
        "40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,xattr,name=systemd\n"))
    own = write(tmp_path / "cgroup", "4:memory:/docker/abc/x\n8:pids:/p\n2:cpu,cpuacct:/\n9:name=systemd:/\n")
    found = {h.mountpoint: h for h in cgroups.hierarchies(str(mountinfo), str(own))}
    assert found["/sys/fs/cgroup/memory"].own_dir == "/sys/fs/cgroup/memory/x"  # mount root stripped
    assert found["/sys/fs/cgroup/pids"].own_dir == "/sys/fs/cgroup/pids/p"
    assert found["/sys/fs/cgroup/cpu,cpuacct"].controllers == {"cpu", "cpuacct"}
    assert all(h.version == 1 for h in found.values())


def test_hierarchies_of_cgroup_v2(tmp_path: Path):
    root = tmp_path / "unified"
    (root / "system.slice" / "repl.service").mkdir(parents=True)
    write(root / "system.slice" / "repl.service" / "cgroup.controllers", "cpu io memory pids\n")
    mountinfo = write(tmp_path / "mountinfo", f"41 31 0:38 / {root} rw,relatime - cgroup2 cgroup2 rw\n")
    own = write(tmp_path / "cgroup", "0::/system.slice/repl.service\n")
    (h,) = cgroups.hierarchies(str(mountinfo), str(own))
    assert h.version == 2 and h.own_dir == str(root / "system.slice" / "repl.service")
    assert {"pids", "memory", "cpu"} <= h.controllers


@needs_cgroups
def test_the_service_uses_cgroups_and_their_limits_apply(tight: Service, tight_session: str):
    mode = tight.get("/readyz").json()["limits_mode"]
    assert mode in ("cgroup-v1", "cgroup-v2"), mode
    seen = probe_limits(tight, tight_session, TIGHT["REPL_MAX_PROCESSES"])
    limits = host_cgroup_limits(seen.cgroup_paths)
    assert limits["pids"] == TIGHT["REPL_MAX_PROCESSES"], (limits, seen)
    expected = isolation.sandbox_memory_bytes(settings.load({k: str(v) for k, v in TIGHT.items()}))
    assert expected - 65536 <= limits["memory"] <= expected, limits
    assert 0 < seen.sleepers <= TIGHT["REPL_MAX_PROCESSES"], seen
    assert "cgroup-v" in tight.log("supervisor") and "per-sandbox limits" in tight.log("supervisor")


@needs_cgroups
def test_the_process_limit_is_per_sandbox_not_per_uid(tight: Service):
    """Two sandboxes of the one sandbox uid each start 20 processes: 40 in all, more than
    REPL_MAX_PROCESSES (32). With RLIMIT_NPROC as the only bound (it counts per uid) the
    second would be starved by the first; with a pids cgroup per sandbox both get 20."""
    script = ("python3 -c \"\n"
              "import subprocess, time\n"
              "procs = []\n"
              "for _ in range(20):\n"
              "    try:\n"
              "        procs.append(subprocess.Popen(['sleep', '5']))\n"
              "    except OSError:\n"
              "        break\n"
              "print(len(procs), flush=True)\n"
              "time.sleep(2)\n"
              "[p.kill() for p in procs]\n"
              "\"")
    sessions = [f"pids-{i}-{os.getpid()}" for i in range(2)]
    for sid in sessions:
        tight.write(sid, "x", "")
    with concurrent.futures.ThreadPoolExecutor(2) as pool:
        results = list(pool.map(lambda sid: tight.run(sid, script, timeout=20), sessions))
    assert [r["stdout"] for r in results] == ["20\n", "20\n"], results


@needs_cgroups
def test_cgroups_are_removed_with_the_supervisor_and_stale_ones_at_start():
    found = cgroups.hierarchies()
    pids_h = next(h for h in found if "pids" in h.controllers)
    stale = Path(pids_h.own_dir, cgroups.PARENT, "sup-999999999", "slot-0")
    stale.mkdir(parents=True, exist_ok=True)  # as left by a supervisor killed with SIGKILL
    svc = start_service({"REPL_POOL_SIZE": "1", "REPL_MAX_CONCURRENT_JOBS": "1"})
    try:
        pid = svc.procs["supervisor"].pid
        ours = Path(pids_h.own_dir, cgroups.PARENT, f"sup-{pid}")
        assert sorted(p.name for p in ours.iterdir() if p.is_dir()) == ["slot-0", "slot-1"]
        assert not stale.parent.exists(), "a dead supervisor's cgroups were left in place"
    finally:
        svc.stop()
        shutil.rmtree(svc.workdir, ignore_errors=True)
    assert not ours.exists(), "the supervisor left its cgroups behind"
