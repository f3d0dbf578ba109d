# Leave what could outlive a process in a reused sandbox: System V IPC objects (unless
# given `no-ipc`: a sandbox where one was made is not reused), a POSIX message queue, an
# abstract unix socket held by a detached process; print what this execution can see of
# such state, then its pid and network namespace.
import ctypes
import os
import socket
import sys
import time

libc = ctypes.CDLL(None, use_errno=True)
IPC_PRIVATE, IPC_CREAT = 0, 0o1000


def state():
    seen = []
    for kind in ("shm", "msg", "sem"):
        with open("/proc/sysvipc/" + kind) as f:
            seen += [f"{kind}:{line.split()[1]}" for line in f.read().splitlines()[1:]]
    with open("/proc/net/unix") as f:
        seen += ["unix:" + line.split()[-1] for line in f.read().splitlines()[1:] if line.split()[-1].startswith("@")]
    for name in ("/proc/net/tcp", "/proc/net/tcp6", "/proc/net/udp"):
        try:
            with open(name) as f:
                seen += [f"{name}:{line.split()[1]}" for line in f.read().splitlines()[1:]]
        except OSError:
            pass
    seen += ["tmp:" + n for n in os.listdir("/tmp")] + ["shm:" + n for n in os.listdir("/dev/shm")]
    return seen


print("seen", state())
print("pid", os.getpid(), "netns", os.readlink("/proc/self/ns/net"), "ipcns", os.readlink("/proc/self/ns/ipc"))
if sys.argv[1:] != ["no-ipc"]:
    libc.shmget(IPC_PRIVATE, 4096, IPC_CREAT | 0o666)
    libc.msgget(IPC_PRIVATE, IPC_CREAT | 0o666)
    libc.semget(IPC_PRIVATE, 1, IPC_CREAT | 0o666)
mq = ctypes.CDLL("librt.so.1", use_errno=True).mq_open(b"/leftover", os.O_CREAT | os.O_RDWR, 0o600, None)
print("mq_open", mq, ctypes.get_errno())
open("/tmp/left", "w").write("x")
open("/dev/shm/left", "w").write("x")
bound, bind = os.pipe()
if os.fork() == 0:
    os.setsid()
    holder = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    holder.bind(f"\0leftover-{os.getpid()}")
    holder.listen()
    os.write(bind, b"x")  # bound: the state is there to be counted (however loaded the machine)
    time.sleep(600)
    os._exit(0)
os.read(bound, 1)
print("left", len(state()))
sys.stdout.flush()
