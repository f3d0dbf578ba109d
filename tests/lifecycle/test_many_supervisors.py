"""Three supervisors behind one web tier, over tcp:// with CurveZMQ keys, on this machine.

Sessions stay on the supervisor rendezvous hashing gives them, forks land beside their
source, scratch evaluations spread over all three, a client without the right key gets
nothing run, and killing one supervisor fails only its sessions, quickly. The killing test
comes last in the module: it leaves the cluster one supervisor short.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import time
import uuid
from collections.abc import Iterator

import pytest
import zmq
import zmq.auth

from protocol import envelope, routing
from supervisor.exitcodes import ExitCode
from tests.lifecycle.conftest import wait_for
from tests.support.cluster import Cluster, start_cluster
from tests.support.service import ROOT, free_port, procfile

COUNT = 3
ADD = "def add(a, b):\n    return a + b\n"


@pytest.fixture(scope="module")
def cluster() -> Iterator[Cluster]:
    svc = start_cluster(COUNT)
    try:
        wait_for(lambda: all(s["ready"] for s in svc.get("/readyz").json()["supervisors"]), timeout=60)
        yield svc
    except BaseException:
        for name in svc.procs:
            print(f"--- {name} log (tail) ---\n{svc.log(name)[-4000:]}")
        raise
    finally:
        svc.stop()
        shutil.rmtree(svc.workdir, ignore_errors=True)


def owner_index(svc: Cluster, session: str) -> int:
    return svc.endpoints.index(routing.owner(session, svc.endpoints))


def session_owned_by(svc: Cluster, index: int) -> str:
    while True:
        candidate = f"own-{uuid.uuid4().hex[:12]}"
        if owner_index(svc, candidate) == index:
            return candidate


def jobs_done(svc: Cluster) -> dict[str, int]:
    text = svc.get("/metrics").text
    found = re.findall(r'^repl_supervisor_jobs_done_total\{supervisor="([^"]+)"\} ([0-9.e+]+)$', text, re.MULTILINE)
    return {endpoint: int(float(value)) for endpoint, value in found}


def test_sessions_stay_with_their_supervisor_across_many_requests(cluster: Cluster) -> None:
    sessions = [cluster.post("/create_session", {}).json()["id"] for _ in range(9)]
    sessions += [f"named-{i}" for i in range(6)]
    for round_ in range(4):
        for sid in sessions:
            cluster.write(sid, "n.txt", str(round_))
            assert cluster.get("/read_file", params={"id": sid, "rel_path": "n.txt"}).json()["content"] == str(round_)
    for sid in sessions[:6]:
        assert cluster.run(sid, "cat n.txt")["stdout"] == "3"
    homes = {sid: cluster.where(sid) for sid in sessions}
    assert all(homes[sid] == [owner_index(cluster, sid)] for sid in sessions), homes
    assert len({home[0] for home in homes.values()}) == COUNT  # 15 sessions over 3: each holds some


def test_created_sessions_go_to_the_least_busy_in_turn(cluster: Cluster) -> None:
    made = [cluster.post("/create_session", {}).json()["id"] for _ in range(COUNT * 2)]
    assert sorted(owner_index(cluster, sid) for sid in made) == sorted(list(range(COUNT)) * 2)


def test_a_fork_lands_beside_its_source(cluster: Cluster) -> None:
    for index in range(COUNT):
        source = session_owned_by(cluster, index)
        cluster.write(source, "f.txt", "forked")
        for _ in range(3):
            reply = cluster.post("/fork_session", {"id": source, "new_id": "chosen-by-client"})
            assert reply.status_code == 200, reply.text
            copy = reply.json()["new_id"]
            assert copy != "chosen-by-client"
            assert cluster.where(copy) == [index]
            read = cluster.get("/read_file", params={"id": copy, "rel_path": "f.txt"})
            assert read.json()["content"] == "forked"


def test_scratch_evaluations_spread_over_every_supervisor(cluster: Cluster) -> None:
    before = jobs_done(cluster)
    assert set(before) == set(cluster.endpoints)
    for _ in range(COUNT * 3):  # the same id each time: no session, so it runs anywhere
        result = cluster.evaluate(ADD, "add", [("1, 2", "3")], session="scratch-x")
        assert result["passed"], result
    after = jobs_done(cluster)
    assert all(after[e] - before[e] >= 2 for e in cluster.endpoints), (before, after)
    assert cluster.where("scratch-x") == []
    routed = re.findall(r'^repl_rpc_routed_total\{op="evaluate",supervisor="([^"]+)"\}', cluster.get("/metrics").text,
                        re.MULTILINE)
    assert set(routed) == set(cluster.endpoints)


def test_an_evaluation_in_a_session_runs_on_its_owner(cluster: Cluster) -> None:
    sid = session_owned_by(cluster, 1)
    cluster.write(sid, "k.txt", "40")
    code = "def f(x):\n    return int(open('k.txt').read()) + x\n"
    result = cluster.evaluate(code, "f", [("2", "42")], session=sid)
    assert result["passed"], result


def _raw_dealer(context: zmq.Context, keys: tuple[bytes, bytes | None] | None, server: bytes,
                endpoint: str) -> zmq.Socket:
    sock = context.socket(zmq.DEALER)
    sock.linger = 0
    if keys is not None:
        sock.curve_publickey, sock.curve_secretkey = keys
        sock.curve_serverkey = server
    sock.connect(endpoint)
    return sock


def test_a_client_without_the_right_key_gets_nothing_run(cluster: Cluster) -> None:
    endpoint = cluster.endpoints[0]
    server_public, _ = zmq.auth.load_certificate(str(cluster.keys_dir / "server.key"))
    right = zmq.auth.load_certificate(str(cluster.keys_dir / "web.key_secret"))
    wrong = zmq.curve_keypair()
    context = zmq.Context()
    try:
        for name, keys in (("no key", None), ("unknown key", wrong), ("web key", right)):
            sid = f"raw-{uuid.uuid4().hex[:8]}"
            sock = _raw_dealer(context, keys, server_public, endpoint)
            body = {"id": sid, "rel_path": "pwned.txt", "content": name}
            sock.send(envelope.encode_request(envelope.Request(id="r1", op="write_file", body=body)))
            answered = sock.poll(3000, zmq.POLLIN)
            sock.close(0)
            written = (cluster.root_of(0) / sid / "pwned.txt").exists()
            if keys is right:  # the control: the same message with the allowed key is run
                assert answered and written
            else:
                assert not answered and not written, name
    finally:
        context.term()


def test_a_tcp_endpoint_without_keys_is_refused(tmp_path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("REPL_")}
    env.update(REPL_SUPERVISOR_ENDPOINT=f"tcp://127.0.0.1:{free_port()}", REPL_SESSION_ROOT=str(tmp_path))
    result = subprocess.run(shlex.split(procfile()["supervisor"]), cwd=ROOT, env=env, capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == ExitCode.UNAUTHENTICATED_ENDPOINT, result.stderr
    assert "REPL_CURVE_SECRET_KEY" in result.stderr and "network endpoint" in result.stderr


def test_a_dead_supervisor_fails_only_its_own_sessions_and_quickly(cluster: Cluster) -> None:
    mine = {index: session_owned_by(cluster, index) for index in range(COUNT)}
    for sid in mine.values():
        cluster.write(sid, "x.txt", "x")
    cluster.kill_supervisor(0)
    for _ in range(3):
        started = time.monotonic()
        lost = cluster.get("/read_file", params={"id": mine[0], "rel_path": "x.txt"})
        assert lost.status_code == 503 and lost.headers.get("Retry-After"), lost.text
        assert time.monotonic() - started < 2.0
        for index in (1, 2):
            read = cluster.get("/read_file", params={"id": mine[index], "rel_path": "x.txt"})
            assert read.status_code == 200, read.text
            assert cluster.run(mine[index], "cat x.txt")["stdout"] == "x"
    # What has no session yet is placed on the live ones.
    for _ in range(COUNT * 2):
        made = cluster.post("/create_session", {})
        assert made.status_code == 200 and owner_index(cluster, made.json()["id"]) != 0
        scratch = session_owned_by(cluster, 1)
        assert cluster.evaluate(ADD, "add", [("2, 2", "4")], session=scratch)["passed"]
    ready = cluster.get("/readyz")
    assert ready.status_code == 200
    ups = {s["endpoint"]: s["up"] for s in ready.json()["supervisors"]}
    assert ups == {cluster.endpoints[0]: False, cluster.endpoints[1]: True, cluster.endpoints[2]: True}
    # It comes back with its sessions.
    cluster.start_supervisor(0)
    wait_for(lambda: cluster.get("/read_file", params={"id": mine[0], "rel_path": "x.txt"}).status_code == 200,
             timeout=30)
