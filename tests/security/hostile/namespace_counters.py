# Per-namespace counters a job can move in a reused sandbox: the network statistics (a
# send with no route counts in /proc/net/snmp) and the System V IPC id allocators (ids
# count the objects made before). `move` moves them all; `read` prints what a job sees of
# them: the statistics, and the ids a new shared memory segment, message queue and
# semaphore set get (each removed at once), and the network namespace it ran in.
import ctypes
import json
import os
import socket
import sys

libc = ctypes.CDLL(None, use_errno=True)
IPC_PRIVATE, IPC_CREAT, IPC_RMID = 0, 0o1000, 0
STATISTICS = ("/proc/net/snmp", "/proc/net/netstat", "/proc/net/snmp6")


def make_ids():
    shm = libc.shmget(IPC_PRIVATE, 4096, IPC_CREAT | 0o600)
    msg = libc.msgget(IPC_PRIVATE, IPC_CREAT | 0o600)
    sem = libc.semget(IPC_PRIVATE, 1, IPC_CREAT | 0o600)
    libc.shmctl(shm, IPC_RMID, None)
    libc.msgctl(msg, IPC_RMID, None)
    libc.semctl(sem, 0, IPC_RMID)
    return {"shm": shm, "msg": msg, "sem": sem}


def statistics():
    seen = {}
    for name in STATISTICS:
        try:
            with open(name) as f:
                seen[name] = f.read()
        except OSError:
            pass
    return seen


if sys.argv[1] == "move":
    for family, address in ((socket.AF_INET, ("10.1.2.3", 9)), (socket.AF_INET6, ("2001:db8::1", 9))):
        with socket.socket(family, socket.SOCK_DGRAM) as sock:
            for _ in range(37):
                try:
                    sock.sendto(b"x", address)
                except OSError:
                    pass
    for _ in range(5):
        libc.semget(IPC_PRIVATE, 1, IPC_CREAT | 0o600)  # left for the sandbox to remove
        libc.shmget(IPC_PRIVATE, 4096, IPC_CREAT | 0o600)
        libc.msgget(IPC_PRIVATE, IPC_CREAT | 0o600)
    print(json.dumps({"statistics": statistics()}))
else:
    print(json.dumps({"statistics": statistics(), "ids": make_ids(), "netns": os.readlink("/proc/self/ns/net")}))
