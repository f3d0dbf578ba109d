"""`python3 -m supervisor.keys DIR`: make the CurveZMQ key files of a deployment.

Writes, in DIR (created 0700):

- `server.key` / `server.key_secret`: the supervisors' key pair, shared by all of them
  (the web tier needs only `server.key`);
- `web.key` / `web.key_secret`: the web tier's key pair;
- `clients/web.key`: the web tier's public key, in the directory the supervisors read
  the allowed clients from.

Existing files are never overwritten: replacing a key pair is a deliberate act (remove
the files first). Secret files are 0600.
"""

from __future__ import annotations

import os
import shutil
import sys

import zmq.auth

NAMES = ("server", "web")


def make(directory: str) -> list[str]:
    """Create the key files in `directory`; return their paths.

    Raises:
        FileExistsError: a key file is already there.
    """
    os.makedirs(os.path.join(directory, "clients"), mode=0o700, exist_ok=True)
    for name in NAMES:
        for suffix in (".key", ".key_secret"):
            if os.path.exists(os.path.join(directory, name + suffix)):
                raise FileExistsError(f"{os.path.join(directory, name + suffix)} exists; remove it to replace it")
    made = []
    for name in NAMES:
        public, secret = zmq.auth.create_certificates(directory, name)
        os.chmod(secret, 0o600)
        made += [public, secret]
    client = os.path.join(directory, "clients", "web.key")
    shutil.copyfile(os.path.join(directory, "web.key"), client)
    return [*made, client]


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python3 -m supervisor.keys DIR", file=sys.stderr)
        return 2
    try:
        for path in make(argv[0]):
            print(path)
    except OSError as exc:
        print(f"supervisor.keys: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
