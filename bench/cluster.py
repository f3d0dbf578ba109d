"""`python3 -m bench.cluster`: throughput with one and with several supervisors behind one
web tier, over tcp:// with CurveZMQ keys, and the web tier's routing cost per request.

Each run starts N supervisors (own session root, port and pool) and one web tier from
this checkout, drives `eval1` (a one-case scratch evaluation) from client threads for a
fixed time, and stops them. On one machine the supervisors share its cores, so this
shows the overhead and the spread, not the scaling several machines would give.
"""

from __future__ import annotations

import argparse
import os
import shlex
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import timeit
from pathlib import Path

import requests

from protocol import routing
from supervisor import keys

ROOT = Path(__file__).resolve().parents[1]
SUPERVISOR = "python3 -m supervisor"
WEB = "gunicorn -c webapp/gunicorn_conf.py webapp:create_app()"
EVAL1 = {"id": "bench-scratch", "code": "def add(a, b):\n    return a + b\n", "entry_point": "add",
         "io_cases": [{"input": "1, 2", "output": "3"}]}


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def routing_cost(endpoints: int, number: int = 20000) -> tuple[float, float]:
    """Microseconds per `owner` lookup and per `mint` over `endpoints` endpoints."""
    names = [f"tcp://repl-supervisor-{i}.repl-supervisor:5555" for i in range(endpoints)]
    owner = timeit.timeit(lambda: routing.owner("0b0e1c52-6f6e-4f43-9d2c-5b8e6c1f0a77", names), number=number)
    mint = timeit.timeit(lambda: routing.mint(names[0], names), number=number // 10)
    return owner / number * 1e6, mint / (number // 10) * 1e6


def _start(count: int, workdir: Path, pool: int, web_workers: int) -> tuple[str, list[subprocess.Popen]]:
    keys.make(str(workdir / "keys"))
    endpoints = [f"tcp://127.0.0.1:{_port()}" for _ in range(count)]
    port = _port()
    base = {**os.environ, "REPL_POOL_SIZE": str(pool), "REPL_SESSION_TTL": "0", "REPL_LOG_LEVEL": "WARNING",
            "REPL_CURVE_SECRET_KEY": str(workdir / "keys/server.key_secret"),
            "REPL_CURVE_CLIENTS_DIR": str(workdir / "keys/clients"),
            "REPL_CURVE_CLIENT_KEY": str(workdir / "keys/web.key_secret"),
            "REPL_CURVE_SERVER_KEY": str(workdir / "keys/server.key")}
    procs = []
    for i, endpoint in enumerate(endpoints):
        env = {**base, "REPL_SUPERVISOR_ENDPOINT": endpoint, "REPL_SESSION_ROOT": str(workdir / f"s{i}")}
        procs.append(subprocess.Popen(shlex.split(SUPERVISOR), cwd=ROOT, env=env, start_new_session=True,
                                      stdout=open(workdir / f"supervisor-{i}.log", "ab"), stderr=subprocess.STDOUT))
    env = {**base, "PORT": str(port), "REPL_BIND_HOST": "127.0.0.1", "REPL_WEB_WORKERS": str(web_workers),
           "REPL_SUPERVISOR_ENDPOINTS": ",".join(endpoints)}
    procs.append(subprocess.Popen(shlex.split(WEB), cwd=ROOT, env=env, start_new_session=True,
                                  stdout=open(workdir / "web.log", "ab"), stderr=subprocess.STDOUT))
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            status = requests.get(url + "/readyz", timeout=2).json()
            if all(s.get("ready") for s in status.get("supervisors", [status])):
                return url, procs
        except (requests.RequestException, ValueError):
            pass
        time.sleep(0.2)
    raise RuntimeError(f"not ready; see {workdir}")


def _stop(procs: list[subprocess.Popen]) -> None:
    for proc in reversed(procs):
        try:
            os.killpg(proc.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
    for proc in procs:
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)


def throughput(url: str, concurrency: int, seconds: float) -> tuple[float, int]:
    """Correct evaluations per second, and the number of failures."""
    done = [0] * concurrency
    failed = [0] * concurrency
    until = time.monotonic() + seconds

    def drive(index: int) -> None:
        with requests.Session() as http:
            while time.monotonic() < until:
                reply = http.post(url + "/evaluate_code", json=EVAL1, timeout=30)
                if reply.status_code == 200 and reply.json().get("passed"):
                    done[index] += 1
                else:
                    failed[index] += 1
    threads = [threading.Thread(target=drive, args=(i,)) for i in range(concurrency)]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return sum(done) / (time.monotonic() - started), sum(failed)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python3 -m bench.cluster", description=__doc__)
    parser.add_argument("--supervisors", default="1,3", help="comma-separated supervisor counts")
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--duration", type=float, default=10.0)
    parser.add_argument("--pool", type=int, default=2, help="REPL_POOL_SIZE of each supervisor")
    parser.add_argument("--web-workers", type=int, default=2)
    args = parser.parse_args(argv)
    for n in (1, 3, 8):
        owner_us, mint_us = routing_cost(n)
        print(f"routing over {n} endpoint(s): owner {owner_us:.2f} us, mint {mint_us:.2f} us")
    for count in (int(part) for part in args.supervisors.split(",")):
        workdir = Path(tempfile.mkdtemp(prefix="repl-bench-cluster-"))
        url, procs = _start(count, workdir, args.pool, args.web_workers)
        try:
            throughput(url, args.concurrency, 1.0)  # warm-up
            rate, failed = throughput(url, args.concurrency, args.duration)
        finally:
            _stop(procs)
        print(f"{count} supervisor(s), pool {args.pool} each, {args.concurrency} clients: "
              f"{rate:.1f} eval1/s, {failed} failed")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
