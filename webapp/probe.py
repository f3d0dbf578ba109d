"""`python3 -m webapp.probe web|supervisor`: a container's health check, as one command
that exits 0 when healthy and 1 (saying why on stderr) when not.

A command of plain words, so that every engine runs it the same way: Docker Compose and
podman-compose each turn a health check into a `/bin/sh -c` string in their own way, and
podman-compose 1.0.3 broke a `python3 -c '<code>'` one (deploy/compose.yaml).

- `web`: the web tier of this container answers `GET /healthz` on `PORT`.
- `supervisor`: the supervisor at `REPL_SUPERVISOR_ENDPOINT` answers a status request and
  is ready (the request the web tier's `/readyz` makes).
"""

from __future__ import annotations

import os
import sys
import urllib.request

from protocol.errors import ServiceError
from webapp.rpc import SupervisorClient

TIMEOUT = 3.0


def web() -> str | None:
    """Why the web tier is not healthy, or None."""
    url = f"http://127.0.0.1:{os.environ.get('PORT', '6000')}/healthz"
    try:
        with urllib.request.urlopen(url, timeout=TIMEOUT) as response:  # noqa: S310 - a fixed http URL
            return None if response.status == 200 else f"{url} answered {response.status}"
    except OSError as exc:
        return f"{url}: {exc}"


def supervisor() -> str | None:
    """Why the supervisor is not healthy, or None."""
    endpoint = os.environ.get("REPL_SUPERVISOR_ENDPOINT", "")
    try:
        status = SupervisorClient(endpoint).call("status", {}, TIMEOUT)
    except ServiceError as exc:
        return f"{endpoint}: {exc.detail}"
    return None if status.get("ready") else f"{endpoint}: not ready: {status.get('detail')}"


def main(argv: list[str]) -> int:
    checks = {"web": web, "supervisor": supervisor}
    if len(argv) != 1 or argv[0] not in checks:
        print(f"usage: python3 -m webapp.probe {'|'.join(checks)}", file=sys.stderr)
        return 2
    why = checks[argv[0]]()
    if why is not None:
        print(f"unhealthy: {why}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
