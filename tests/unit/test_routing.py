"""Rendezvous hashing of session ids over supervisor endpoints (`protocol.routing`), the
endpoint settings, and the key files of `python3 -m supervisor.keys`."""

from __future__ import annotations

import os
import stat
import uuid
from collections import Counter

import pytest
import zmq.auth

from protocol import routing, settings
from supervisor import keys

ENDPOINTS = ("tcp://supervisor-0.s:5555", "tcp://supervisor-1.s:5555", "tcp://supervisor-2.s:5555")
IDS = [str(uuid.uuid4()) for _ in range(3000)]


def test_the_owner_does_not_depend_on_the_order_of_the_list() -> None:
    shuffled = (ENDPOINTS[2], ENDPOINTS[0], ENDPOINTS[1])
    assert all(routing.owner(sid, ENDPOINTS) == routing.owner(sid, shuffled) for sid in IDS)


def test_sessions_spread_evenly() -> None:
    counts = Counter(routing.owner(sid, ENDPOINTS) for sid in IDS)
    assert set(counts) == set(ENDPOINTS)
    assert all(800 < n < 1200 for n in counts.values()), counts


def test_adding_a_supervisor_moves_only_the_sessions_it_takes() -> None:
    grown = (*ENDPOINTS, "tcp://supervisor-3.s:5555")
    moved = [sid for sid in IDS if routing.owner(sid, ENDPOINTS) != routing.owner(sid, grown)]
    assert all(routing.owner(sid, grown) == grown[3] for sid in moved)  # none moves between the old ones
    assert 0.2 < len(moved) / len(IDS) < 0.3  # about 1/4


def test_a_minted_id_belongs_to_the_supervisor_it_was_minted_for() -> None:
    for endpoint in ENDPOINTS:
        for _ in range(20):
            sid = routing.mint(endpoint, ENDPOINTS)
            assert routing.owner(sid, ENDPOINTS) == endpoint
            assert uuid.UUID(sid).version == 4
    with pytest.raises(ValueError):
        routing.mint("tcp://elsewhere:1", ENDPOINTS)


def test_one_endpoint_setting_or_a_list() -> None:
    single = settings.load({"REPL_SUPERVISOR_ENDPOINT": "ipc:///tmp/x.sock"})
    assert routing.endpoints(single) == ("ipc:///tmp/x.sock",)
    listed = settings.load({"REPL_SUPERVISOR_ENDPOINT": "tcp://*:5555",
                            "REPL_SUPERVISOR_ENDPOINTS": " tcp://a:1, tcp://b:1 "})
    assert routing.endpoints(listed) == ("tcp://a:1", "tcp://b:1")
    for bad in ("tcp://a:1,tcp://a:1", "http://a:1"):
        with pytest.raises(ValueError, match="REPL_SUPERVISOR_ENDPOINTS"):
            settings.load({"REPL_SUPERVISOR_ENDPOINTS": bad})


def test_the_key_tool_makes_a_working_set_and_never_overwrites(tmp_path) -> None:
    made = keys.make(str(tmp_path / "k"))
    assert len(made) == 5
    public, secret = zmq.auth.load_certificate(str(tmp_path / "k" / "server.key_secret"))
    assert secret and zmq.auth.load_certificate(str(tmp_path / "k" / "server.key"))[0] == public
    assert stat.S_IMODE(os.stat(tmp_path / "k" / "web.key_secret").st_mode) == 0o600
    assert (tmp_path / "k" / "clients" / "web.key").read_bytes() == (tmp_path / "k" / "web.key").read_bytes()
    with pytest.raises(FileExistsError):
        keys.make(str(tmp_path / "k"))


def test_the_web_tier_refuses_a_tcp_endpoint_without_keys() -> None:
    from webapp import create_app
    with pytest.raises(ValueError, match="REPL_CURVE_CLIENT_KEY"):
        create_app({"REPL_SUPERVISOR_ENDPOINTS": "tcp://127.0.0.1:9,ipc:///tmp/x.sock", "REPL_INSECURE": "0"})
    create_app({"REPL_SUPERVISOR_ENDPOINTS": "tcp://127.0.0.1:9", "REPL_INSECURE": "1"})  # allowed, loudly elsewhere
