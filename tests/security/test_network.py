"""docs/api.md §7.2, the network: none at all. Not the service's own port on loopback, not the
supervisor's socket, not the outside world. (Nothing is sent to a non-loopback address
from the host: inside the sandbox's empty network namespace a connect to 10.255.255.1
fails at once with ENETUNREACH, which is the test.)"""

from __future__ import annotations

import errno

from tests.security.support import run_hostile
from tests.support.service import Service


def test_the_services_own_port_is_unreachable(service: Service, session: str):
    port = service.env["PORT"]
    result = run_hostile(service, session, "connect_service_port.py", port)
    out = result["stdout"]
    assert "CONNECTED" not in out, result
    assert out.count("failed") == 3, result


def test_the_supervisor_socket_is_unreachable(service: Service, session: str):
    path = service.env["REPL_SUPERVISOR_ENDPOINT"].removeprefix("ipc://")
    result = run_hostile(service, session, "connect_supervisor_socket.py", path)
    out = result["stdout"]
    assert "CONNECTED" not in out, result
    assert out.count("failed") == 3, result
    assert "FileNotFoundError" in out.splitlines()[0], result  # the path does not exist inside


def test_the_outside_world_is_unreachable(service: Service, session: str):
    result = run_hostile(service, session, "connect_outside.py")
    lines = dict(line.split(" ", 1) for line in result["stdout"].splitlines())
    assert "CONNECTED" not in result["stdout"], result
    code, seconds = lines["outside"].split()[1:3]
    assert int(code) == errno.ENETUNREACH and float(seconds) < 1.0, result  # refused at once: no route at all
    assert lines["dns"].startswith("failed"), result
    assert lines["raw"].startswith("socket failed"), result
    assert lines["interfaces"] == "['lo']", result
