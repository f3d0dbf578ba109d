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
    """An evaluation whose code imports a module the template lacks runs on a job template
    while the sandbox's spare unit waits beside it: the cases go after every pid and must
    neither reach nor kill it."""
    wait_for(lambda: bool(spare_units(tight)), timeout=10)
    spares = spare_units(tight)
    code = "import colorsys\n" + hostile("attack_template.py") + "\ndef f():\n    return done\n"
    body = tight.evaluate(code, "f", [("", "[]")] * 3)
    assert all(c["status"] == "passed" for c in body["case_results"]), body
    assert spares <= spare_units(tight), "a spare unit was killed by the code of another job"
