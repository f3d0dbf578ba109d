"""The supervisor's exit statuses: one enum, the table in docs/operations.md, and the
systemd unit's list of statuses not to restart after, all in agreement."""

from __future__ import annotations

import re
from pathlib import Path

from supervisor.exitcodes import ExitCode, SandboxExit

ROOT = Path(__file__).resolve().parents[2]


def _documented() -> dict[int, str]:
    text = (ROOT / "docs" / "operations.md").read_text(encoding="utf-8")
    table = text.split("<!-- exit-codes:start -->")[1].split("<!-- exit-codes:end -->")[0]
    return {int(status): name for status, name in re.findall(r"^\| (\d+) \| `(\w+)` \|", table, re.MULTILINE)}


def test_operations_doc_lists_every_exit_status_by_its_name() -> None:
    assert _documented() == {code.value: code.name for code in ExitCode}


def test_systemd_does_not_restart_after_what_a_restart_cannot_fix() -> None:
    unit = (ROOT / "deploy" / "systemd" / "repl-supervisor.service").read_text(encoding="utf-8")
    listed = re.search(r"^RestartPreventExitStatus=(.*)$", unit, re.MULTILINE)
    assert listed is not None
    assert {int(s) for s in listed.group(1).split()} == {ExitCode.INVALID_SETTING, ExitCode.CANNOT_ISOLATE,
                                                     ExitCode.UNAUTHENTICATED_ENDPOINT}


def test_sandbox_statuses_are_distinct_and_below_the_signal_range() -> None:
    values = [code.value for code in SandboxExit]
    assert len(set(values)) == len(values)
    assert all(0 <= v < 128 for v in values)  # 128 + n means "killed by signal n" to a shell
