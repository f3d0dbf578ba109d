"""The per-process CPU split: roles, sums, and the readers of py-spy's and perf's output."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.cpu_split import (
    Proc,
    classify,
    read_perf_script,
    stack_category,
    summarize_folded,
    used_by_role,
    waits,
)


def test_each_level_of_the_trees_has_its_role() -> None:
    assert classify(0, web=False) == ("supervisor", "-")
    assert classify(1, web=False) == ("zygote", "ended sandboxes")
    assert classify(3, web=False) == ("template", "unit")  # a template's ended children: units
    assert classify(5, web=False) == ("unit", "unit")  # a unit's own children count with it
    assert classify(0, web=True) == ("web master", "web worker")
    assert classify(1, web=True) == ("web worker", "web children")


def test_ended_children_count_under_their_own_role_from_the_first_sample_on() -> None:
    # the spare unit (pid 3, 0.1 s so far) serves the job and ends (0.4 s in all): its
    # template's reaped CPU grows by 0.4, of which 0.3 is new; a new spare used 0.05
    before = {1: Proc("supervisor", 1.0, 0.5, "-", 0), 2: Proc("template", 0.2, 3.0, "unit", 9),
              3: Proc("unit", 0.1, 0.0, "unit", 2)}
    after = {1: Proc("supervisor", 1.5, 0.5, "-", 0), 2: Proc("template", 0.25, 3.4, "unit", 9),
             4: Proc("unit", 0.05, 0.0, "unit", 2)}
    used = used_by_role(before, after)
    assert used.keys() == {"supervisor", "template", "unit"}
    assert [round(used[role], 6) for role in ("supervisor", "template", "unit")] == [0.5, 0.05, 0.35]


def test_lines_that_wait_are_told_from_lines_that_work(tmp_path: Path) -> None:
    source = tmp_path / "loop.py"
    source.write_text("chunk = sock.recv(4096)\nchunks += chunk\nready = poller.poll(100)\n"
                      "item = work_queue.get(block=True)\nvalue = data.get('key')\n"
                      "return zmq_poll(self.sockets, timeout=timeout)\n")
    verdicts = [waits(f"f ({source}:{line})") for line in range(1, 7)]
    assert verdicts == [True, False, True, True, False, True]
    assert not waits("nowhere (no/such/file.py:3)")


def test_folded_stacks_give_inclusive_and_self_shares() -> None:
    lines = ["main (a.py:1);work (a.py:5) 6", "main (a.py:1);work (a.py:6);helper (b.py:2) 4",
             "main (a.py:1) 10", "garbage"]
    total, inclusive, own = summarize_folded(lines)
    assert total == 20
    assert dict(inclusive) == {"main (a.py)": 20, "work (a.py)": 10, "helper (b.py)": 4}
    assert dict(own) == {"main (a.py)": 10, "work (a.py)": 6, "helper (b.py)": 4}


def test_a_sample_is_filed_under_its_outermost_way_into_the_kernel() -> None:
    fork = [("copy_page_range", "[kernel.kallsyms]"), ("asm_exc_page_fault", "[kernel.kallsyms]"),
            ("__do_sys_clone", "[kernel.kallsyms]"), ("_Fork", "/usr/lib/libc.so.6")]
    assert stack_category(fork) == "sys fork"  # a fault inside the system call is the call's
    fault = [("do_wp_page", "[kernel.kallsyms]"), ("asm_exc_page_fault", "[kernel.kallsyms]"),
             ("PyDict_SetItem", "/usr/lib/libpython3.11.so.1.0")]
    assert stack_category(fault) == "page faults"
    assert stack_category([("_PyEval_EvalFrameDefault", "/x/libpython3.11.so.1.0")]) == "Python interpreter"
    assert stack_category([("memcpy", "/usr/lib/libc.so.6")]) == "user libc.so.6"
    assert stack_category([("schedule", "[kernel.kallsyms]")]) == "kernel, other"
    assert stack_category([("__x64_sys_umount", "[kernel.kallsyms]")]) == "sys mount"


def test_perf_script_samples_are_read_with_their_process() -> None:
    text = ("python3 15401/15401 \n"
            "\t    ffffffff8134a235 copy_page_range+0x5 ([kernel.kallsyms])\n"
            "\t          1af8fe _Fork (/usr/lib/x86_64-linux-gnu/libc.so.6)\n"
            "\n"
            "gunicorn 23102/23103 \n"
            "\t          1990ac dict_get (/x/libpython3.11.so.1.0)\n")
    samples = list(read_perf_script(iter(text.splitlines())))
    assert samples == [(15401, [("copy_page_range", "[kernel.kallsyms]"),
                                ("_Fork", "/usr/lib/x86_64-linux-gnu/libc.so.6")]),
                       (23102, [("dict_get", "/x/libpython3.11.so.1.0")])]


def test_a_one_pass_scenario_is_cycled_and_a_fixed_one_left_as_it_is() -> None:
    from bench.answers import WrongAnswer
    from bench.problems import add_problem
    from bench.scenarios import SCENARIOS, OpContext, Scenario, cycled

    assert cycled(SCENARIOS["eval1"]) is SCENARIOS["eval1"]
    problems = [add_problem(1), add_problem(2)]
    cycled_one = cycled(Scenario("pass", "two problems", SCENARIOS["humaneval"].build,
                                 one_pass=lambda: problems))
    assert cycled_one.one_pass is None and cycled_one.name == "pass"
    sent: list[dict[str, object]] = []

    class Api:
        def post(self, path: str, body: dict[str, object]) -> None:
            sent.append(body)

    op = cycled_one.build(OpContext(session_id="s", client=0, pool=None))  # type: ignore[arg-type]
    for _ in range(3):
        with pytest.raises(WrongAnswer):  # the reply check refuses a missing reply; what was sent counts
            op(Api())  # type: ignore[arg-type]
    assert [len(body["io_cases"]) for body in sent] == [1, 2, 1]  # type: ignore[arg-type]
