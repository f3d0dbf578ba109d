"""docs/api.md §7.3 and §7.5, processes: sandboxed code sees and signals nothing outside its
sandbox, leaves nothing running after its request (however it detaches), and no state
of one execution (files in /tmp, processes) is visible to the next."""

from __future__ import annotations

import concurrent.futures
import random

from tests.security.conftest import TIGHT
from tests.security.support import (
    assert_limits_in_force,
    assert_normal_evaluation,
    assert_nothing_left,
    new_session,
    run_hostile,
)
from tests.support.service import Service


def marker() -> str:
    """A sleep duration no other process of the machine uses, to find ours by."""
    return f"{random.randint(900000, 999999)}.{random.randint(1, 999)}"


def test_no_process_of_the_service_is_visible(service: Service, session: str):
    result = run_hostile(service, session, "proc_visibility.sh")
    lines = result["stdout"].splitlines()
    assert lines, result
    for line in lines:
        pid, _, cmdline = line.partition(" ")
        assert int(pid) < 100, f"a pid from outside the sandbox's pid namespace: {line}"
        assert "gunicorn" not in cmdline and "supervisor" not in cmdline, line
    assert all("proc_visibility" in line for line in lines), "something else than our own command is visible"


def test_kill_everything_hurts_nothing_outside(tight: Service, tight_session: str):
    assert_limits_in_force(tight, tight_session, TIGHT["REPL_MAX_PROCESSES"], TIGHT["REPL_RUN_MEMORY_MB"])
    bystander = new_session(tight, "bystander")
    service_pids = {name: proc.pid for name, proc in tight.procs.items()}
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        slow = pool.submit(tight.run, bystander, "sleep 2; echo bystander survived")
        attack = run_hostile(tight, tight_session, "kill_everything.sh")
        assert slow.result(timeout=60)["stdout"] == "bystander survived\n"
    assert "kill exit=" in attack["stdout"] or attack["exit_code"] == -9, attack
    for name, proc in tight.procs.items():
        assert proc.poll() is None and proc.pid == service_pids[name], f"{name} was killed"
    assert tight.get("/readyz").json()["ready"] is True
    assert_normal_evaluation(tight)


def test_a_background_process_does_not_outlive_its_request(service: Service, session: str):
    mark = marker()
    result = run_hostile(service, session, "background_process.sh", mark)
    assert result["stdout"] == "started\n", result
    assert_nothing_left(f"sleep {mark}")
    follow = service.run(session, f"ps -eo args | grep -c '[s]leep {mark}' || true")
    assert follow["stdout"].strip() == "0", follow


def test_a_respawning_daemon_does_not_escape_the_reaper(service: Service, session: str):
    """Peers lost processes to a race between their kill and a fork; here the whole pid
    namespace dies with its init, however fast its processes multiply."""
    mark = marker()
    result = run_hostile(service, session, "respawning_daemon.sh", mark)
    assert result["stdout"] == "launched\n", result
    assert_nothing_left(f"sleep {mark}")
    assert_nothing_left(f"do sleep {mark}")  # the daemon's shell itself


def test_no_state_passes_from_one_execution_to_the_next(service: Service, session: str):
    mark = marker()
    assert run_hostile(service, session, "tmp_state_writer.sh", mark)["stdout"] == "written\n"
    for sid in (session, new_session(service)):  # the same session, then another
        seen = run_hostile(service, sid, "tmp_state_reader.sh", mark)
        assert "FOUND" not in seen["stdout"] and "left-behind" not in seen["stdout"], seen
        assert seen["stdout"].rstrip().endswith("no process"), seen


def test_evaluations_leave_no_state_for_the_next(service: Service, session: str):
    code = ("import os, subprocess\n"
            "def leave():\n"
            "    open('/tmp/left-behind', 'w').write('secret')\n"
            "    subprocess.Popen(['sleep', '987653.5'])\n"
            "    return True\n"
            "def look():\n"
            "    procs = [open(f'/proc/{p}/cmdline').read() for p in os.listdir('/proc') if p.isdigit()]\n"
            "    return [os.path.exists('/tmp/left-behind'), any('987653' in p for p in procs)]\n")
    assert service.evaluate(code, "leave", [("", "True")], session=session)["passed"] is True
    assert_nothing_left("sleep 987653.5")
    result = service.evaluate(code, "look", [("", "[False, False]")], session=session)
    assert result["passed"] is True, result
