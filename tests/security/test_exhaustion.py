"""docs/api.md §7.4, exhaustion: a fork bomb, a memory bomb, filling the disk, an output flood and
an infinite loop each fail that request alone with a clear status; while each runs the
service answers a ping (and its readiness check) within 1 s, and a normal evaluation
right after.

These attacks run on the machine that runs the tests. They are sent to the `tight`
service (small limits), and only after a probe from inside its sandbox has shown that the
limits are in force (non-root uid, no capabilities, processes and memory bounded); when
they are not, the test fails without sending the attack."""

from __future__ import annotations

import pytest

from tests.security.conftest import TIGHT
from tests.security.support import (
    Responsiveness,
    assert_limits_in_force,
    assert_normal_evaluation,
    assert_nothing_left,
    evaluate_hostile,
    new_session,
    run_hostile,
    while_attacking,
)
from tests.support.service import Service

MAX_PROCESSES = TIGHT["REPL_MAX_PROCESSES"]
MEMORY_MB = TIGHT["REPL_RUN_MEMORY_MB"]


@pytest.fixture
def armed(tight: Service, tight_session: str) -> str:
    """A session of the tight service whose sandbox was just seen to be bounded."""
    assert_limits_in_force(tight, tight_session, MAX_PROCESSES, MEMORY_MB)
    return tight_session


def assert_responsive(svc: Service, seen: Responsiveness) -> None:
    assert seen.ping_seconds, "no ping was sent while the attack ran"
    assert max(seen.ping_seconds) < 1.0, f"GET / took {seen.ping_seconds}"
    assert max(seen.ready_seconds) < 1.0, f"GET /readyz took {seen.ready_seconds}"
    assert_normal_evaluation(svc)


def test_fork_bomb_in_run(tight: Service, armed: str):
    seen = while_attacking(tight, lambda: run_hostile(tight, armed, "fork_bomb.sh", timeout=4))
    result = seen.result
    assert result["timed_out"] is True and result["exit_code"] != 0, result
    assert_responsive(tight, seen)
    assert_nothing_left("fork_bomb.sh")


def test_classic_shell_fork_bomb_in_run(tight: Service, armed: str):
    result = run_hostile(tight, armed, "fork_bomb_classic.sh", timeout=4)
    assert result["exit_code"] != 0 and "Cannot fork" in result["stderr"], result
    assert_nothing_left("fork_bomb_classic.sh")
    assert_normal_evaluation(tight)


def test_fork_bomb_in_evaluation(tight: Service, armed: str):
    seen = while_attacking(tight, lambda: evaluate_hostile(tight, "fork_bomb.py", "bomb", session=armed, timeout=3))
    case = seen.result["case_results"][0]
    assert seen.result["passed"] is False and case["status"] in ("timeout", "crashed", "error"), case
    assert case["error"], case
    assert_responsive(tight, seen)


def test_memory_bomb_in_evaluation(tight: Service, armed: str):
    # The memory limit ends this bomb within a fraction of a second, sometimes before a
    # ping can be sent during it: then the pings go right after it.
    seen = while_attacking(tight, lambda: evaluate_hostile(tight, "memory_bomb.py", "bomb", session=armed, timeout=8),
                           settle=0.2, pings=2, must_overlap=False)
    case = seen.result["case_results"][0]
    assert case["status"] == "memory" and "MemoryError" in case["error"], case
    assert_responsive(tight, seen)


def test_memory_bomb_across_processes_hits_the_sandbox_limit(tight: Service, armed: str):
    """Each process stays under its own RLIMIT_AS; together they pass what one sandbox may
    use. Only a per-sandbox bound (a memory cgroup) stops this: the kernel kills within the
    sandbox, nothing outside it."""
    if not tight.get("/readyz").json()["limits_mode"].startswith("cgroup"):
        pytest.skip("no memory cgroup on this machine: rlimits bound each process only")
    processes, each_mb = 5, 200  # 1000 MiB in all; the sandbox's cgroup allows 640 MiB
    seen = while_attacking(tight, lambda: run_hostile(tight, armed, "memory_bomb_processes.sh", processes, each_mb,
                                                      timeout=20))
    result = seen.result
    statuses = [line for line in result["stdout"].splitlines() if line.startswith("status=")]
    shown = (result["exit_code"], result["stdout"], result["stderr"])
    # With the sandbox's memory at its bound, the kernel may refuse the shell a later fork
    # ("Cannot fork"): the bound at work too, so fewer statuses count then and only then.
    assert len(statuses) == processes or (0 < len(statuses) < processes and "fork" in result["stderr"]), shown
    assert "status=137" in statuses, shown  # SIGKILL from the kernel's OOM killer, in this sandbox only
    assert_responsive(tight, seen)


def test_filling_the_disk_stops_at_the_quota(tight: Service, armed: str):
    quota = TIGHT["REPL_DISK_QUOTA_MB"] << 20
    # Each file stays under the per-file limit (RLIMIT_FSIZE, the remaining quota); their sum
    # is stopped by the sandbox's disk watch, within a fraction of a second.
    seen = while_attacking(tight, lambda: run_hostile(tight, armed, "fill_disk.sh", timeout=60), settle=0.05,
                           pings=2, must_overlap=False)
    result = seen.result
    assert result["exit_code"] != 0 and result["timed_out"] is False, result
    assert "DiskQuotaExceeded" in result["stderr"] or "File too large" in result["stderr"], result
    files = tight.get("/list_files", params={"id": armed}).json()["files"]
    used = sum(f["size"] for f in files if f["kind"] == "file")
    assert used < quota + (256 << 20), f"{used} bytes written against a quota of {quota}"
    refused = tight.post("/write_file", {"id": armed, "rel_path": "more.txt", "content": "x" * 1024})
    assert refused.status_code == 413, refused.text
    assert_responsive(tight, seen)


def test_filling_tmp_stops_at_its_size(tight: Service, armed: str):
    result = run_hostile(tight, armed, "fill_tmp.sh", timeout=30)
    assert "tmp exit=0" not in result["stdout"] and "shm exit=0" not in result["stdout"], result
    assert "No space left on device" in result["stderr"], result
    sizes = [int(line.split()[4]) for line in result["stdout"].splitlines() if line.startswith("-")]
    assert sizes and all(size <= TIGHT["REPL_TMP_SIZE_MB"] << 20 for size in sizes), result
    assert_normal_evaluation(tight)


def test_output_flood_in_run(tight: Service, armed: str):
    # Past the cap the service stops reading: the flooders die of SIGPIPE at once.
    seen = while_attacking(tight, lambda: run_hostile(tight, armed, "output_flood.sh", timeout=3), settle=0.05,
                           pings=2, must_overlap=False)
    result = seen.result
    assert result["truncated"] is True, {k: v for k, v in result.items() if k not in ("stdout", "stderr")}
    assert len(result["stdout"]) <= 1 << 20 and len(result["stderr"]) <= 1 << 20
    assert_responsive(tight, seen)
    assert_nothing_left("flood flood flood")


def test_output_flood_in_evaluation(tight: Service, armed: str):
    seen = while_attacking(tight, lambda: evaluate_hostile(tight, "output_flood.py", "flood", session=armed,
                                                           timeout=3), settle=0.3, pings=2)
    case = seen.result["case_results"][0]
    assert case["status"] in ("timeout", "error"), case
    assert len(case["stdout"]) <= 64 << 10, len(case["stdout"])
    assert_responsive(tight, seen)


def test_infinite_loop_in_run(tight: Service, armed: str):
    seen = while_attacking(tight, lambda: run_hostile(tight, armed, "infinite_loop.sh", timeout=3))
    result = seen.result
    assert result["timed_out"] is True and result["exit_code"] == -9, result
    assert_responsive(tight, seen)


def test_infinite_loop_in_evaluation(tight: Service, armed: str):
    seen = while_attacking(tight, lambda: evaluate_hostile(tight, "infinite_loop.py", "spin", session=armed,
                                                           timeout=3, cpu_limit=2))
    case = seen.result["case_results"][0]
    assert case["status"] == "timeout" and case["error"] == "Timeout", case
    assert_responsive(tight, seen)


def test_one_sandbox_exhausting_its_limits_leaves_another_unharmed(tight: Service, armed: str):
    """A fork bomb and a normal command at the same time: the command finishes in time."""
    bystander = new_session(tight, "bystander")

    def both():
        import concurrent.futures
        with concurrent.futures.ThreadPoolExecutor(2) as pool:
            bomb = pool.submit(run_hostile, tight, armed, "fork_bomb.sh", timeout=5)
            normal = pool.submit(tight.run, bystander,
                                 "python3 -c 'print(sum(i * i for i in range(200000)))'; ls | wc -l", timeout=10)
            return bomb.result(), normal.result()

    seen = while_attacking(tight, both, settle=0.5, pings=2)
    bomb, normal = seen.result
    assert bomb["timed_out"] is True, bomb
    assert normal["exit_code"] == 0 and normal["stdout"].startswith("2666646666700000\n"), normal
    assert_responsive(tight, seen)
