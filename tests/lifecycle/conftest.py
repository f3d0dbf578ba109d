"""Helpers for the lifecycle tests: each test (or module) gets its own real service with
the settings it needs, since these tests kill, restart and reconfigure the processes."""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import psutil

from tests.support.service import Service, start_service


@contextmanager
def running_service(**env: str | float) -> Iterator[Service]:
    """Start web + supervisor with `env` on top of the test defaults; stop and clean up."""
    svc = start_service({name: str(value) for name, value in env.items()})
    try:
        yield svc
    except BaseException:
        for name in ("supervisor", "web"):  # shown by pytest with the failure
            print(f"--- {name} log (tail) ---\n{svc.log(name)[-6000:]}")
        raise
    finally:
        svc.stop()
        shutil.rmtree(svc.workdir, ignore_errors=True)


def wait_for(condition: Callable[[], bool], timeout: float, interval: float = 0.05) -> float:
    """Poll `condition` until it holds; return the seconds it took.

    Raises:
        AssertionError: it did not hold within `timeout` seconds.
    """
    started = time.monotonic()
    while not condition():
        if time.monotonic() - started > timeout:
            raise AssertionError(f"condition not met within {timeout}s")
        time.sleep(interval)
    return time.monotonic() - started


def snapshot(svc: Service, session: str) -> dict[str, str]:
    """Every file of a session with its content, read through the API (base64, so binary
    files compare too)."""
    listing = svc.get("/list_files", params={"id": session})
    assert listing.status_code == 200, listing.text
    files = {}
    for entry in listing.json()["files"]:
        if entry["kind"] == "file":
            read = svc.get("/read_file", params={"id": session, "rel_path": entry["path"], "encoding": "base64"})
            assert read.status_code == 200, read.text
            files[entry["path"]] = read.json()["content"]
        else:
            files[entry["path"]] = entry["kind"]
    return files


def descendants(pid: int) -> list[int]:
    """Every process below `pid` (the supervisor's zygote, sandboxes and their children)."""
    try:
        return [child.pid for child in psutil.Process(pid).children(recursive=True)]
    except psutil.NoSuchProcess:
        return []


def alive(pids: list[int]) -> list[int]:
    """The pids of `pids` that still run (zombies count as gone)."""
    running = []
    for pid in pids:
        try:
            if psutil.Process(pid).status() != psutil.STATUS_ZOMBIE:
                running.append(pid)
        except psutil.NoSuchProcess:
            pass
    return running
