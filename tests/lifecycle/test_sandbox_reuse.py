"""A sandbox serves many jobs: nothing of one job may stay behind in the sandbox's own
processes (descriptors, children), and a sandbox is retired, not reused, when it cannot
be cleaned."""

from __future__ import annotations

import os
import uuid
from concurrent.futures import ThreadPoolExecutor

import psutil

from tests.lifecycle.conftest import running_service, wait_for
from tests.support.service import Service


def sandbox_processes(svc: Service) -> list[psutil.Process]:
    """Every sandbox init and template: the zygote's children and grandchildren (not the
    spare unit a template keeps, a new process for every job)."""
    supervisor = psutil.Process(svc.procs["supervisor"].pid)
    zygote = next(c for c in supervisor.children() if "supervisor.sandbox.zygote" in " ".join(c.cmdline()))
    inits = zygote.children()
    return inits + [t for init in inits for t in init.children()]


def open_descriptors(svc: Service) -> dict[int, int]:
    return {p.pid: len(os.listdir(f"/proc/{p.pid}/fd")) for p in sandbox_processes(svc)}


def test_jobs_leave_no_descriptor_or_process_in_the_sandbox() -> None:
    with running_service(REPL_POOL_SIZE=1, REPL_MAX_CONCURRENT_JOBS=1) as svc:
        sid = f"reuse-{uuid.uuid4().hex[:12]}"
        svc.write(sid, "a.txt", "a")
        mixed = [
            lambda: svc.run(sid, "cat a.txt; (sleep 30 &)"),
            lambda: svc.run(sid, "echo x", stdin="some input"),
            lambda: svc.evaluate("import fractions\ndef f(x):\n    return x", "f", [("1", "1"), ("2", "2")],
                                 session=sid),
            lambda: svc.evaluate("def f():\n    return object()", "f", [("", "1")]),
        ]
        for job in mixed:  # warm: every kind of job once, so lazily opened things are open
            job()
        before = open_descriptors(svc)
        for _ in range(10):
            for job in mixed:
                job()
        wait_for(lambda: set(open_descriptors(svc)) == set(before), timeout=10)
        after = open_descriptors(svc)
        assert after == before, f"descriptors per sandbox process before {before}, after {after}"


def test_a_spare_unit_that_died_while_waiting_is_not_used() -> None:
    """Should the spare unit ever die while it waits (nothing of user code can kill it: see
    tests/security/test_template.py), the next job gets a new fork, not a crashed case."""
    with running_service(REPL_POOL_SIZE=1, REPL_MAX_CONCURRENT_JOBS=1) as svc:
        assert svc.evaluate("def f():\n    return 1", "f", [("", "1")])["passed"]

        def spares() -> list[psutil.Process]:
            supervisor = psutil.Process(svc.procs["supervisor"].pid)
            zygote = next(c for c in supervisor.children() if "supervisor.sandbox.zygote" in " ".join(c.cmdline()))
            return [s for init in zygote.children() for t in init.children() for s in t.children()]

        wait_for(lambda: len(spares()) >= 1, timeout=10)
        for spare in spares():
            spare.kill()
        wait_for(lambda: not spares(), timeout=10)
        for _ in range(3):
            result = svc.evaluate("def f():\n    return 2", "f", [("", "2")])
            assert result["passed"], result


def test_a_retiring_sandbox_loses_no_job() -> None:
    """A sandbox on its last job never says it is ready for another: jobs queued while one
    sandbox retires again and again all run (none is answered 504 "the sandbox died")."""
    with running_service(REPL_POOL_SIZE=1, REPL_MAX_CONCURRENT_JOBS=1, REPL_SANDBOX_MAX_JOBS=2) as svc:
        sid = f"retire-{uuid.uuid4().hex[:12]}"
        svc.write(sid, "a.txt", "a")
        with ThreadPoolExecutor(max_workers=8) as executor:
            responses = list(executor.map(
                lambda i: svc.post("/run", {"id": sid, "cmd": f"echo {i}"}), range(40)))
        statuses = [r.status_code for r in responses]
        assert statuses == [200] * 40, statuses
        assert sorted(int(r.json()["stdout"]) for r in responses) == list(range(40))
