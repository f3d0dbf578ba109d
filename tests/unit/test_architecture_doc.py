"""docs/architecture.md's tables of the sandbox path's formats and the code must agree."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

from supervisor.sandbox import frames, messages

DOC = (Path(__file__).resolve().parents[2] / "docs" / "architecture.md").read_text()


def _fields(cls: type) -> set[str]:
    return {f.name for f in dataclasses.fields(cls)}


def _row(start: str) -> str:
    row = next((line for line in DOC.splitlines() if line.startswith(start)), None)
    assert row is not None, f"no row starting {start!r} in docs/architecture.md"
    return row


def test_each_job_frame_lists_exactly_its_fields() -> None:
    for job in (messages.RunJob, messages.EvaluateJob):
        kind = job.__dataclass_fields__["kind"].default
        row = _row(f'| → sandbox | `{{"kind": "{kind}"')
        listed = set(re.findall(r'"(\w+)"', row.split("|")[2])) - {kind}
        assert listed == _fields(job), f"{job.__name__}: documented {sorted(listed)}"


def test_the_program_spec_is_listed_with_its_fields() -> None:
    row = _row('| → sandbox | `{"kind": "evaluate"')
    listed = re.search(r"`messages\.ProgramSpec`: ([^)]*)\)", row)
    assert listed is not None
    assert set(re.findall(r"`(\w+)`", listed.group(1))) == _fields(messages.ProgramSpec)


def test_the_glance_table_names_every_message_and_codec() -> None:
    glance = DOC.split("### The formats at a glance", 1)[1].split("###", 1)[0]
    for cls in (messages.RunJob, messages.EvaluateJob, messages.CaseSpec, messages.ProgramSpec,
                messages.CaseUnit, messages.RunUnit, messages.ExecUnit, messages.UnitLimits,
                messages.CaseMessage, messages.ProgramUnit, messages.CaseReport):
        assert f"`{cls.__name__}`" in glance, cls.__name__
    for name in re.findall(r"`(?:frames|messages)\.(\w+)`", glance):
        assert hasattr(frames, name) or hasattr(messages, name), name


def test_the_codec_round_trips_every_job_and_unit() -> None:
    limits = messages.UnitLimits(cpu_seconds=1, memory_bytes=1 << 20, max_file_bytes=0)
    samples = [
        messages.RunJob(session="s", cmd="true", stdin="", timeout=1.0, memory_mb=64, output_limit=10, fsize=1),
        messages.EvaluateJob(session=None, code="x", entry_point="f", cases=(messages.CaseSpec("1", "2"),),
                             timeout=1.0, cpu=1.0, memory_mb=64, stdout_limit=10, scratch_mb=1, fsize=1,
                             program=messages.ProgramSpec(cmd=None, compile=None, main_file="main.py",
                                                          compare="lines", rel_tol=0.0, abs_tol=0.0)),
        messages.CaseUnit(code="x", entry_point="f", stdout_limit=1, limits=limits, cwd="/", isolation="case"),
        messages.ProgramUnit(path="/program/main.py", limits=limits, cwd="/", environment={"PROGRAM": "x"}),
        messages.ExecUnit(argv=("python3", "main.py"), limits=limits, cwd="/", environment={"A": "b"}),
    ]
    for sample in samples:
        union = messages.SandboxJob if isinstance(sample, (messages.RunJob, messages.EvaluateJob)) else messages.Unit
        assert messages.from_wire(union, messages.to_wire(sample)) == sample
    assert messages.from_wire(messages.RunUnit, {"cmd": "x", "limits": dataclasses.asdict(limits), "cwd": "/",
                                                 "newer": 1}) == messages.RunUnit(cmd="x", limits=limits, cwd="/")
