# Attack: reach the supervisor's ZeroMQ socket by its path (argv[1]), and by abstract names.
import socket
import sys

for address in (sys.argv[1], "\0" + sys.argv[1], "\0supervisor"):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(2)
    try:
        s.connect(address)
        print(repr(address), "CONNECTED")
    except OSError as exc:
        print(repr(address), "failed", type(exc).__name__, exc.errno)
    finally:
        s.close()
