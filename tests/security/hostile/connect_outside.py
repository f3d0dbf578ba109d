# Attack: reach the outside world (a non-routable address: in an empty network namespace the
# connect fails at once with ENETUNREACH; on the host it would only time out), resolve a name,
# and bring the loopback interface up.
import socket
import time

started = time.monotonic()
try:
    socket.create_connection(("10.255.255.1", 80), timeout=3)
    print("outside CONNECTED")
except OSError as exc:
    print("outside failed", exc.errno, round(time.monotonic() - started, 3))
try:
    print("dns", socket.getaddrinfo("example.com", 80))
except OSError as exc:
    print("dns failed", type(exc).__name__)
try:
    socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
    print("raw socket OPENED")
except OSError as exc:
    print("raw socket failed", exc.errno)
print("interfaces", [name for _, name in socket.if_nameindex()])
