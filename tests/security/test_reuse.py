"""One-shot executions in reused sandboxes: a sandbox's namespaces, init and template serve
many executions, so each test here looks for what one execution could leave to the next
(files in /tmp and /dev/shm, processes, System V IPC, POSIX queues, sockets, pid
counters, network statistics and IPC ids), between the cases of one request and between
requests."""

from __future__ import annotations

import errno
import json
import re
import time
import uuid
from collections.abc import Iterator

import pytest

from tests.security.support import evaluate_hostile, hostile, new_session, run_hostile
from tests.support.service import Service, start_service


def _line(pattern: str, out: str) -> re.Match[str]:
    """The line of `out` matching `pattern` (a program's report line), which must be there."""
    found = re.search(pattern, out, re.M)
    assert found is not None, (pattern, out)
    return found


def test_each_case_gets_a_fresh_empty_tmp_and_dev_shm(service: Service):
    cases = [(str(i), "None") for i in range(4)]
    body = evaluate_hostile(service, "case_tmp_state.py", "probe", cases)
    for case in body["case_results"]:
        assert case["status"] == "failed", case  # returned normally (expected None is wrong on purpose)
        found, full = case["got"]
        assert found == [], f"case {case['case']} saw what an earlier case left: {found}"
        assert full == errno.ENOSPC, case  # each case could write until its own /tmp was full


@pytest.mark.parametrize("isolation", ["request", "case"])
@pytest.mark.parametrize("attack", ["case_background_writer.py", "case_clone_parent_writer.py"])
def test_a_cases_background_process_is_dead_before_the_next_case_starts(service: Service, attack: str,
                                                                        isolation: str):
    """A process left by a case, reparented to the init (a double fork) or made the
    sibling of the case's process (`CLONE_PARENT`), is found, killed and counted before
    the next case runs, in either isolation."""
    session = new_session(service, "bg")
    cases = [(str(i), "None") for i in range(4)]
    body = evaluate_hostile(service, attack, "spawn_or_watch", cases, session=session, isolation=isolation)
    results = body["case_results"]
    assert results[0]["got"] == "spawned", results[0]
    assert results[0]["cpu_ms"] is not None, results[0]
    for case in results[1:]:
        growth, others = case["got"]
        assert growth == 0, f"case {case['case']}: the file written by case 0's process still grew"
        assert others == [], f"case {case['case']} sees other processes: {others}"


def test_requests_in_a_reused_sandbox_see_nothing_of_the_previous_ones(tight: Service):
    """Sequential requests land on reused sandboxes; none sees the IPC objects, queues,
    sockets, files or pid numbers of an earlier one. (A request that made an IPC object is
    its sandbox's last, `test_a_later_request_sees_no_counter_an_earlier_one_moved`: every
    other attempt makes none, so that sandboxes are reused.)"""
    sessions = [new_session(tight, "reuse") for _ in range(2)]
    seen_namespaces: dict[str, int] = {}
    first_pids = set()
    for attempt in range(12):
        ipc = attempt % 3 == 0
        result = run_hostile(tight, sessions[attempt % 2], "leave_ipc_and_sockets.py", *(() if ipc else ("no-ipc",)))
        out = result["stdout"]
        assert result["exit_code"] == 0, result
        seen = _line(r"^seen (.*)$", out).group(1)
        assert seen == "[]", f"attempt {attempt} saw state left by an earlier execution: {seen}"
        pid, netns = _line(r"^pid (\d+) netns (\S+)", out).groups()
        first_pids.add(int(pid))
        seen_namespaces[netns] = seen_namespaces.get(netns, 0) + 1
        mq = _line(r"^mq_open (-?\d+) (\d+)", out).groups()
        assert mq[0] == "-1", "a POSIX message queue could be made: it would outlive the execution"
        assert int(_line(r"^left (\d+)", out).group(1)) >= (6 if ipc else 3), out  # the state was really made
    assert max(seen_namespaces.values()) > 1, "no sandbox was reused: the test proved nothing"
    assert len(first_pids) == 1, f"pid numbers tell how many processes ran before: {first_pids}"


def test_a_forged_report_does_not_pass_and_the_answer_is_out_of_reach(service: Service):
    marker = "answer-7f3a9c"
    body = service.evaluate(hostile("forge_report.py"), "answer",
                            [("'answer-'", repr(marker)), ("'answer-'", repr(marker))])
    for case in body["case_results"]:
        assert case["passed"] is False and case["status"] == "failed", case
        assert case["expected"] == marker, "the expected value must come from the request"
        assert case["got"] == 0, case
    assert body["passed"] is False


def test_garbage_on_the_report_channel_fails_that_case_only(service: Service):
    body = evaluate_hostile(service, "garbage_report.py", "noisy", [("0", "0"), ("1", "1"), ("2", "2")])
    statuses = [c["status"] for c in body["case_results"]]
    assert statuses[0] == "passed" and statuses[2] == "passed", body
    assert statuses[1] == "error" and "InvalidReport" in body["case_results"][1]["error"], body


def test_a_report_whose_value_cannot_be_rebuilt_fails_that_case_only(service: Service):
    """A value that decodes to an arithmetic error (Fraction(1, 0), Decimal("x")) is a
    garbled report of that case, not a failure of the whole request."""
    body = evaluate_hostile(service, "forge_unbuildable_report.py", "forge", [(str(i), str(i)) for i in range(4)])
    statuses = [c["status"] for c in body["case_results"]]
    assert statuses[0] == statuses[3] == "passed", body
    for case in body["case_results"][1:3]:
        assert case["status"] == "error" and "InvalidReport" in case["error"], body


def test_a_process_whose_main_thread_exited_is_killed_too(service: Service):
    session = new_session(service, "thr")
    cases = [(str(i), "None") for i in range(3)]
    body = evaluate_hostile(service, "case_thread_survivor.py", "spawn_or_watch", cases, session=session)
    results = body["case_results"]
    assert results[0]["got"] == "spawned", results[0]
    for case in results[1:]:
        assert case["got"] == 0, f"case {case['case']}: the leftover thread still wrote to the session"


def test_a_later_request_finds_nothing_of_an_earlier_ones_code_in_its_memory(tight: Service):
    secret = uuid.uuid4().hex
    victim, attacker = new_session(tight, "victim"), new_session(tight, "attacker")
    for _ in range(6):  # enough to land in a sandbox the victim used
        code = f"SECRET = 'VICTIM:{secret}'\ndef add(a, b):\n    return a + b"
        body = tight.evaluate(code, "add", [("1, 2", "3"), ("2, 2", "__import__('math').sqrt(16)")], session=victim)
        assert body["passed"], body
        probe = tight.evaluate(hostile("find_in_own_memory.py"), "find", [("", "[]")], session=attacker)
        found = probe["case_results"][0]["got"]
        assert isinstance(found, list), probe
        assert secret not in found, "an earlier request's code was readable in a later one's memory"


def test_exit_statuses_belong_to_their_own_command(tight: Service):
    session = new_session(tight, "status")
    body = tight.evaluate("import wave, colorsys\ndef f(x):\n    return x", "f", [("1", "1"), ("2", "2")],
                          session=session)  # an evaluation first
    assert body["passed"], body
    for code in (7, 3, 0, 5):
        assert tight.run(session, f"exit {code}")["exit_code"] == code


def test_a_forged_opaque_value_and_an_always_equal_object_fail_a_literal(service: Service):
    forged = service.evaluate(hostile("forge_opaque_report.py"), "add", [("1, 2", "3"), ("5, 5", "10")])
    assert [c["status"] for c in forged["case_results"]] == ["failed", "failed"], forged
    always = service.evaluate(hostile("always_equal.py"), "add", [("1, 2", "'hidden answer 3'")])
    case = always["case_results"][0]
    assert case["status"] == "failed" and "hidden answer" not in case["stdout"], case


def test_a_report_too_deep_to_parse_fails_its_case_not_the_request(service: Service):
    body = service.evaluate(hostile("deep_report.py"), "add", [("1, 2", "3")])
    case = body["case_results"][0]
    assert case["status"] == "error" and "InvalidReport" in case["error"], case


@pytest.fixture(scope="module")
def lone() -> Iterator[Service]:
    """One sandbox serving job after job, so a later job lands where an earlier one ran."""
    svc = start_service({"REPL_POOL_SIZE": "1", "REPL_MAX_CONCURRENT_JOBS": "1"})
    yield svc
    svc.stop()


def _counters(svc: Service, session: str, mode: str) -> dict:
    time.sleep(0.5)  # the last job's sandbox is clean and idle again: the oldest, it takes this one
    result = run_hostile(svc, session, "namespace_counters.py", mode)
    assert result["exit_code"] == 0, result
    return json.loads(result["stdout"])


def test_a_later_request_sees_no_counter_an_earlier_one_moved(lone: Service):
    """Network statistics (`OutNoRoutes` of failed sends) and System V IPC ids are counters
    of the sandbox's namespaces that no reset sets back: a request that moved one is the
    last its sandbox serves, so every later request finds them as a fresh sandbox has them."""
    sessions = [new_session(lone, "counters-a"), new_session(lone, "counters-b")]
    fresh = _counters(lone, sessions[0], "read")
    assert fresh["ids"] == {"shm": 0, "msg": 0, "sem": 0}, fresh["ids"]
    for attempt in range(3):
        moved = _counters(lone, sessions[attempt % 2], "move")["statistics"]
        assert moved["/proc/net/snmp"] != fresh["statistics"]["/proc/net/snmp"]  # the sends did count
        later = _counters(lone, sessions[(attempt + 1) % 2], "read")
        assert later["statistics"] == fresh["statistics"], attempt
        assert later["ids"] == fresh["ids"], (attempt, later["ids"])


def test_a_request_that_moves_no_counter_leaves_its_sandbox_in_service(lone: Service):
    """The control: the common request is not paid a new sandbox."""
    session = new_session(lone, "counters-c")
    namespaces = set()
    for _ in range(3):
        time.sleep(0.5)
        namespaces.add(lone.run(session, "readlink /proc/self/ns/net")["stdout"])
    assert len(namespaces) == 1, namespaces
