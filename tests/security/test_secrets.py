"""docs/api.md §7.1, secrets: the service's environment (a canary variable set on both processes
by the test fixture) is invisible to sandboxed code, in its own environment and in every
/proc/*/environ it can see."""

from __future__ import annotations

from tests.security.support import evaluate_hostile, run_hostile
from tests.support.service import CANARY, Service


def test_the_canary_is_really_set_on_the_service(service: Service):
    value = service.env[CANARY]
    for name in ("supervisor", "web"):
        with open(f"/proc/{service.procs[name].pid}/environ", "rb") as f:
            assert value.encode() in f.read(), f"the {name} process lacks the canary: the test would prove nothing"


def test_run_sees_no_service_environment(service: Service, session: str):
    result = run_hostile(service, session, "environ_canary.sh")
    out = result["stdout"] + result["stderr"]
    assert result["stdout"].endswith("done\n"), result
    assert CANARY not in out and service.env[CANARY] not in out, result
    assert "REPL_" not in out, "a service setting leaked into the sandbox"
    env = dict(line.split("=", 1) for line in result["stdout"].splitlines() if "=" in line and line[0].isupper())
    assert env.get("HOME") == "/tmp" and "PATH" in env


def test_evaluated_code_sees_no_service_environment(service: Service, session: str):
    result = evaluate_hostile(service, "environ_canary.py", "leak", session=session)
    got = result["case_results"][0]["got"]
    assert isinstance(got, dict), result
    text = repr(got)
    assert CANARY not in text and service.env[CANARY] not in text, got
    assert not any(key.startswith("REPL_") for key in got), got
