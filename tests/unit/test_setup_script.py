"""scripts/setup.sh installs the Debian packages of the commands it finds missing.

Run for real with stand-ins for `apt-get` and `python3` on a PATH that holds only what
the script needs, so the test changes nothing on the machine.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
# ldconfig's cache as the script reads it, when libseccomp is installed.
LDCONFIG = 'echo "	libseccomp.so.2 (libc6,x86-64) => /lib/x86_64-linux-gnu/libseccomp.so.2"'


def _run_setup(tmp_path: Path, present: tuple[str, ...], libseccomp: bool = True) -> list[str]:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    record = tmp_path / "apt.log"
    for tool in ("dirname", "cat"):
        found = shutil.which(tool)
        assert found is not None, tool
        os.symlink(found, bin_dir / tool)
    stubs = {"apt-get": f'echo "$@" >> {record}', "python3": "exit 0"}
    stubs.update({name: "exit 0" for name in present})
    if libseccomp:
        stubs["ldconfig"] = LDCONFIG
    for name, body in stubs.items():
        (bin_dir / name).write_text(f"#!/bin/bash\n{body}\n")
        (bin_dir / name).chmod(0o755)
    subprocess.run(["/bin/bash", str(ROOT / "scripts" / "setup.sh")], env={"PATH": str(bin_dir)},
                   check=True, capture_output=True, timeout=30)
    return record.read_text().splitlines() if record.exists() else []


@pytest.mark.parametrize("present", [(), ("swipl", "ps", "curl", "gcc", "g++")])
def test_uuidgen_missing_installs_uuid_runtime(tmp_path: Path, present: tuple[str, ...]) -> None:
    installs = [line for line in _run_setup(tmp_path, present) if "install" in line.split()]
    assert installs and "uuid-runtime" in installs[0].split()


def test_nothing_missing_installs_nothing(tmp_path: Path) -> None:
    assert _run_setup(tmp_path, ("swipl", "ps", "curl", "uuidgen", "gcc", "g++")) == []


def test_libseccomp_missing_installs_it(tmp_path: Path) -> None:
    lines = _run_setup(tmp_path, ("swipl", "ps", "curl", "uuidgen", "gcc", "g++"), libseccomp=False)
    installs = [line for line in lines if "install" in line.split()]
    assert installs and installs[0].split()[-1] == "libseccomp2", lines


@pytest.mark.parametrize("missing", ["gcc", "g++"])
def test_a_missing_compiler_for_checkers_is_installed(tmp_path: Path, missing: str) -> None:
    present = tuple(tool for tool in ("swipl", "ps", "curl", "uuidgen", "gcc", "g++") if tool != missing)
    installs = [line for line in _run_setup(tmp_path, present) if "install" in line.split()]
    assert installs and installs[0].split()[-1] == missing, installs
