"""`pip install .` gives the typed client (with its `repl-eval` command) and nothing else;
pytest runs every test folder.

The wheel is built from a copy of what pyproject.toml reads (so the checkout gets no
build/ or egg-info), without build isolation (nothing is downloaded: setuptools comes with
Python, wheel from requirements-dev.txt), then installed into a folder of its own and
imported from there.
"""

from __future__ import annotations

import configparser
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

from repl_client import __version__

ROOT = Path(__file__).resolve().parents[2]


def _build_wheel(tmp_path: Path) -> Path:
    source = tmp_path / "source"
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, source / name)
    shutil.copytree(ROOT / "repl_client", source / "repl_client", ignore=shutil.ignore_patterns("__pycache__"))
    dist = tmp_path / "dist"
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation",
                    "-w", str(dist), str(source)], check=True, capture_output=True, timeout=120)
    (wheel,) = dist.glob("*.whl")
    return wheel


def test_the_wheel_holds_the_typed_client_alone_and_installs(tmp_path: Path) -> None:
    wheel = _build_wheel(tmp_path)
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        metadata = next(archive.read(n).decode() for n in names if n.endswith(".dist-info/METADATA"))
        entry_points = next(archive.read(n).decode() for n in names if n.endswith(".dist-info/entry_points.txt"))
    modules = {n for n in names if not n.split("/")[0].endswith(".dist-info")}
    expected = {p.relative_to(ROOT).as_posix() for p in (ROOT / "repl_client").rglob("*.py")}
    assert "repl_client/eval/cli.py" in expected
    assert modules == expected | {"repl_client/py.typed"}
    assert "Requires-Dist: requests" in metadata and "Requires-Python: >=3.11" in metadata
    assert "Requires-Dist: tqdm" in metadata  # repl-eval's progress bar
    assert "Provides-Extra: async" in metadata and "Requires-Dist: httpx" in metadata  # AsyncReplClient
    assert "Provides-Extra: humaneval" in metadata  # the HumanEval data repl-eval reads by default
    assert "[console_scripts]\nrepl-eval = repl_client.eval:main" in entry_points

    target = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-index", "--target", str(target),
                    str(wheel)], check=True, capture_output=True, timeout=120)
    # From a folder outside the checkout, so the import finds the installed copy.
    found = subprocess.run([sys.executable, "-c", "import repl_client; print(repl_client.__file__)"],
                           cwd=tmp_path, env={"PYTHONPATH": str(target), "PATH": "/usr/bin:/bin"},
                           capture_output=True, text=True, check=True, timeout=60).stdout.strip()
    assert Path(found) == target / "repl_client" / "__init__.py"
    assert (target / "repl_client" / "py.typed").is_file()
    command = subprocess.run([sys.executable, "-m", "repl_client.eval", "--version"], cwd=tmp_path,
                             env={"PYTHONPATH": str(target), "PATH": "/usr/bin:/bin"},
                             capture_output=True, text=True, check=True, timeout=60)
    assert command.stdout.strip() == f"repl-eval {__version__}"


def test_pytest_collects_every_folder_of_tests() -> None:
    config = configparser.ConfigParser()
    config.read(ROOT / "pytest.ini")
    testpaths = [ROOT / p for p in config["pytest"]["testpaths"].split()]
    test_files = [p for p in ROOT.rglob("test_*.py") if ".git" not in p.parts]
    assert test_files
    for path in test_files:
        assert any(path.is_relative_to(top) for top in testpaths), f"{path.relative_to(ROOT)} is never run"
