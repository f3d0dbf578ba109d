# Attack: reach the web tier on its own loopback port (argv[1]) and talk HTTP to it.
import socket
import sys

port = int(sys.argv[1])
for host in ("127.0.0.1", "::1", "localhost"):
    try:
        with socket.create_connection((host, port), timeout=2) as s:
            s.sendall(b"GET / HTTP/1.0\r\n\r\n")
            print(host, "CONNECTED", s.recv(100))
    except OSError as exc:
        print(host, "failed", type(exc).__name__, exc.errno)
