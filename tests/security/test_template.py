"""The template (the confined process that forks every case and command of a sandbox, and
outlives them) is out of user code's reach: user code cannot see it, signal it, trace it
or read its memory, so it cannot stop, kill or subvert the executions that follow."""

from __future__ import annotations

import psutil

from tests.security.support import hostile, new_session, run_hostile
from tests.support.service import Service


def sandbox_processes(svc: Service) -> set[int]:
    supervisor = psutil.Process(svc.procs["supervisor"].pid)
    zygote = next(c for c in supervisor.children() if "supervisor.sandbox.zygote" in " ".join(c.cmdline()))
    return {p.pid for p in zygote.children(recursive=True)}


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
