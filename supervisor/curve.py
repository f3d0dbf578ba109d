"""CurveZMQ on the supervisor's socket: only known web tiers may send it operations.

Whoever can send an operation to the supervisor can run code, so a socket that listens on
the network (`tcp://`) is refused unless it authenticates its clients: the supervisor's
key pair encrypts the connection and a ZAP handler (pyzmq's `ThreadAuthenticator`, one
thread that answers libzmq's authentication requests) lets in only the clients whose
public keys are in `REPL_CURVE_CLIENTS_DIR`. A client with another key, or none, never
completes the handshake, so nothing it sends reaches the poll loop. An `ipc://` socket is
guarded by its file's permissions and needs no keys, though it uses them if configured.
The key files are made by `python3 -m supervisor.keys`.
"""

from __future__ import annotations

import os

import zmq
import zmq.auth
from zmq.auth.thread import ThreadAuthenticator

from protocol.settings import Config


class CurveRefused(Exception):
    """The endpoint and the key settings do not make a safe socket; the message says why."""


def configured(config: Config) -> bool:
    return bool(config.curve_secret_key or config.curve_clients_dir)


def check(config: Config) -> None:
    """Refuse a network endpoint without keys, and half-configured keys.

    Raises:
        CurveRefused: naming the settings to fix.
    """
    if configured(config):
        if not (config.curve_secret_key and config.curve_clients_dir):
            raise CurveRefused("REPL_CURVE_SECRET_KEY and REPL_CURVE_CLIENTS_DIR must be set together")
        if not os.path.isdir(config.curve_clients_dir):
            raise CurveRefused(f"REPL_CURVE_CLIENTS_DIR={config.curve_clients_dir!r} is not a directory")
        return
    if config.supervisor_endpoint.startswith("tcp://") and not config.insecure:
        raise CurveRefused(
            f"{config.supervisor_endpoint} is a network endpoint and whoever reaches it can run code: "
            "set REPL_CURVE_SECRET_KEY and REPL_CURVE_CLIENTS_DIR (make the files with "
            "`python3 -m supervisor.keys DIR`), or use an ipc:// endpoint; REPL_INSECURE=1 allows it "
            "unauthenticated (never in production)")


def secure(router: zmq.Socket, context: zmq.Context, config: Config) -> ThreadAuthenticator | None:
    """Make `router` a CURVE server that admits only the allowed clients (before it binds).

    Returns the running authenticator (stop it when the socket closes), or None when no
    keys are configured.

    Raises:
        CurveRefused: a key file cannot be read or holds no secret key.
    """
    if not configured(config):
        return None
    try:
        public, secret = zmq.auth.load_certificate(config.curve_secret_key)
    except (OSError, ValueError) as exc:
        raise CurveRefused(f"cannot read REPL_CURVE_SECRET_KEY={config.curve_secret_key!r}: {exc}") from None
    if not secret:
        raise CurveRefused(f"REPL_CURVE_SECRET_KEY={config.curve_secret_key!r} holds no secret key "
                           "(give the `.key_secret` file)")
    auth = ThreadAuthenticator(context)
    auth.start()
    auth.configure_curve(domain="*", location=config.curve_clients_dir)
    router.curve_secretkey = secret
    router.curve_publickey = public
    router.curve_server = True
    return auth
