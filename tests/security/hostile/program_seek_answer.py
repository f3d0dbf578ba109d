# A program case that hunts for its expected output instead of computing it: it looks
# everywhere a process of the sandbox can look (its environment and arguments, every
# descriptor it holds, every /proc entry it can read, the program directory, /tmp,
# /dev/shm and the working directory) for a string starting with the prefix on its
# stdin, and prints the first one it finds (or "nothing").
import os
import re
import sys

prefix = sys.stdin.read().strip().encode()
pattern = re.compile(re.escape(prefix) + rb"[0-9a-f]{6,}")


def look(data):
    found = pattern.search(data or b"")
    if found:
        print(found.group().decode())
        sys.exit(0)


def read(path, limit=1 << 22):
    try:
        with open(path, "rb") as f:
            return f.read(limit)
    except OSError:
        return b""


look(b"\n".join(k.encode() + b"=" + v.encode() for k, v in os.environ.items()))
look(b" ".join(a.encode() for a in sys.argv))
for fd in [0, *range(3, 256)]:  # not its own stdout and stderr: reading those would wait forever
    try:
        look(os.pread(fd, 1 << 20, 0))
    except OSError:
        pass
    look(read(f"/proc/self/fd/{fd}"))
for pid in [p for p in os.listdir("/proc") if p.isdigit()] + ["self", "thread-self"]:
    for name in ("environ", "cmdline", "maps", "stat", "status", "io"):
        look(read(f"/proc/{pid}/{name}"))
    for task in os.listdir(f"/proc/{pid}/task") if os.path.isdir(f"/proc/{pid}/task") else []:
        look(read(f"/proc/{pid}/task/{task}/environ"))
for top in ("/program", "/tmp", "/dev/shm", ".", "/session"):
    for root, _dirs, files in os.walk(top):
        for name in files:
            look(read(os.path.join(root, name)))
print("nothing")
