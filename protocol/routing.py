"""Which supervisor owns a session: rendezvous hashing of the id over the endpoints.

The web tier sends every operation on a session to `owner(id, endpoints)`. Rendezvous
(highest-random-weight) hashing is used rather than `hash % n` because adding or removing
one supervisor moves only the sessions that belonged to it or now belong to it, about
1/n of them, and needs no table: every web worker computes the same owner from the same
list, in any order.

New ids are minted here too (`mint`), so the rule that a new session lives where it will
be looked for exists once: a session created without an id, or the copy a fork makes,
gets a UUID4 drawn until it hashes to the supervisor chosen for it. The supervisor never
needs the list: it uses the id it is given.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Sequence
from typing import Any

MAX_MINT_TRIES = 10_000  # with n supervisors a draw succeeds with probability 1/n


def endpoints(config: Any) -> tuple[str, ...]:
    """The supervisor endpoints the web tier connects to.

    `REPL_SUPERVISOR_ENDPOINTS` when set; otherwise the single `REPL_SUPERVISOR_ENDPOINT`
    (which is also what a supervisor binds), so a one-machine setup needs neither changed.
    """
    listed: tuple[str, ...] = config.supervisor_endpoints
    return listed or (config.supervisor_endpoint,)


def weight(endpoint: str, session_id: str) -> int:
    """The endpoint's score for the id; the highest score owns it."""
    digest = hashlib.blake2b(f"{endpoint}\n{session_id}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big")


def owner(session_id: str, endpoints: Sequence[str]) -> str:
    """The endpoint of the supervisor that owns `session_id`."""
    if len(endpoints) == 1:
        return endpoints[0]
    return max(endpoints, key=lambda endpoint: weight(endpoint, session_id))


def mint(endpoint: str, endpoints: Sequence[str]) -> str:
    """A new UUID4 session id that `owner` maps to `endpoint`.

    Raises:
        ValueError: `endpoint` is not in the list (a bug of the caller).
    """
    if endpoint not in endpoints:
        raise ValueError(f"{endpoint!r} is not one of the supervisor endpoints")
    for _ in range(MAX_MINT_TRIES):
        candidate = str(uuid.uuid4())
        if owner(candidate, endpoints) == endpoint:
            return candidate
    raise RuntimeError("could not mint an id for the supervisor")  # pragma: no cover - p = (1-1/n)^10000
