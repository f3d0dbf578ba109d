"""The template (the confined process that forks every case and command of a sandbox, and
outlives them) is out of user code's reach: user code cannot see it, signal it, trace it
or read its memory, so it cannot stop, kill or subvert the executions that follow."""

from __future__ import annotations

import psutil

from tests.lifecycle.conftest import wait_for
from tests.security.support import hostile, new_session, run_hostile
from tests.support.service import Service


def sandbox_processes(svc: Service) -> set[int]:
    """The sandboxes' inits and their templates (not the spare units the templates keep:
    each job uses one up and the next is a new process)."""
    supervisor = psutil.Process(svc.procs["supervisor"].pid)
    zygote = next(c for c in supervisor.children() if "supervisor.sandbox.zygote" in " ".join(c.cmdline()))
    inits = zygote.children()
    return {p.pid for p in inits} | {t.pid for init in inits for t in init.children()}


def test_user_code_cannot_touch_the_template_or_the_init(tight: Service):
    before = sandbox_processes(tight)
    session = new_session(tight, "tpl")
    for _ in range(3):
        out = run_hostile(tight, session, "attack_template.py")["stdout"]
        assert "done []" in out, out
        visible = out.split("visible ")[1].split("\n")[0]
        assert visible.count(",") <= 1, f"more than the command's own processes are visible: {visible}"
        body = tight.evaluate(hostile("attack_template.py") + "\ndef f():\n    return done\n", "f", [("", "[]")] * 3)
        assert all(c["status"] == "passed" for c in body["case_results"]), body
    lost = before - sandbox_processes(tight)
    assert not lost, f"sandbox inits or templates were killed: {lost}"
    assert tight.run(session, "echo still")["stdout"] == "still\n"


def spare_units(svc: Service) -> set[int]:
    """The spare units the sandboxes' templates keep: the templates' children while no
    job runs."""
    supervisor = psutil.Process(svc.procs["supervisor"].pid)
    zygote = next(c for c in supervisor.children() if "supervisor.sandbox.zygote" in " ".join(c.cmdline()))
    return {s.pid for init in zygote.children() for t in init.children() for s in t.children()}


def test_user_code_cannot_touch_the_spare_unit(tight: Service):
    """The cases of an evaluation go after every pid (the template, the init, the spare
    units of the sandboxes) and reach nothing: the spare of their own sandbox became their
    unit, and a new one is forked only once the sandbox is restored after the job; every
    other spare survives."""
    wait_for(lambda: bool(spare_units(tight)), timeout=10)
    spares = spare_units(tight)
    code = "import colorsys\n" + hostile("attack_template.py") + "\ndef f():\n    return done\n"
    body = tight.evaluate(code, "f", [("", "[]")] * 3)
    assert all(c["status"] == "passed" for c in body["case_results"]), body
    wait_for(lambda: len(spare_units(tight)) >= len(spares), timeout=10)
    assert len(spares - spare_units(tight)) <= 1, "a spare unit of another sandbox was killed"


SCHEDULING = ("import os\nprint([os.sched_getscheduler(0), os.getpriority(os.PRIO_PROCESS, 0), "
              "sorted(os.sched_getaffinity(0))])\n")


def test_user_code_cannot_lower_the_priority_of_later_jobs(tight: Service):
    """setpriority, sched_setscheduler and sched_setaffinity check only the caller's uid
    against the target's effective uid, which the template and its spare share with user
    code: a job that puts them at nice 19, SCHED_IDLE or on one CPU must not hand that to
    the units of the jobs after it (every fork inherits it), whoever sends them."""
    session = new_session(tight, "sched")
    tight.write(session, "sched.py", SCHEDULING)
    fresh = tight.run(session, "python3 sched.py")["stdout"]
    reached = []
    for _ in range(4):
        reached += run_hostile(tight, session, "reschedule_others.py")["stdout"].split("changed ")[1:]
    # An evaluation (the module is not preloaded, two cases) while the spare waits.
    body = tight.evaluate("import colorsys\n" + hostile("reschedule_others.py"), "f", [("", "[]")] * 2)
    reached += [str(c["got"]) for c in body["case_results"]]
    assert any("idle" in r for r in reached), f"the attack reached nothing; test it differently: {reached}"
    for _ in range(8):
        assert tight.run(session, "python3 sched.py")["stdout"] == fresh
    code = ("import os\ndef f():\n    return [os.sched_getscheduler(0), os.getpriority(os.PRIO_PROCESS, 0), "
            "sorted(os.sched_getaffinity(0))]\n")
    for _ in range(4):
        body = tight.evaluate("import colorsys\n" + hostile("reschedule_others.py"), "f", [("", "[]")] * 2)
        body = tight.evaluate(code, "f", [("", fresh.strip())])
        assert body["passed"], body
