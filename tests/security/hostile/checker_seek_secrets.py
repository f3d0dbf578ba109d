# A program case judged by a checker, which hunts for what only the checker may see (the
# answer file, the checker's code and files) instead of computing its output: it looks
# in the checker's directory, in every place a process of the sandbox can read (its
# environment, its descriptors, /proc, the program directory, /tmp, /dev/shm, the
# session) for a string starting with the prefix on its stdin, and prints the first one
# it finds, or "nothing". It also reports how each direct try at the checker's
# directory failed.
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


tries = []
for action, path in (("list", "/judge"), ("read", "/judge/.answer"), ("read", "/judge/.checker.py"),
                     ("read", "/judge/check.py"), ("write", "/judge/.output")):
    try:
        if action == "list":
            os.listdir(path)
        elif action == "read":
            open(path, "rb").close()
        else:
            open(path, "wb").close()
        tries.append(f"{action} {path}: done")
    except OSError as exc:
        tries.append(f"{action} {path}: {type(exc).__name__}")
sys.stderr.write("\n".join(tries) + "\n")

look(b"\n".join(k.encode() + b"=" + v.encode() for k, v in os.environ.items()))
for fd in [0, *range(3, 256)]:
    try:
        look(os.pread(fd, 1 << 20, 0))
    except OSError:
        pass
    look(read(f"/proc/self/fd/{fd}"))
for pid in [p for p in os.listdir("/proc") if p.isdigit()] + ["self"]:
    for name in ("environ", "cmdline", "maps", "stat", "status", "io", "mem"):
        look(read(f"/proc/{pid}/{name}"))
    for link in ("cwd", "root"):
        for root, _dirs, files in os.walk(f"/proc/{pid}/{link}/judge"):
            for name in files:
                look(read(os.path.join(root, name)))
for top in ("/judge", "/program", "/tmp", "/dev/shm", ".", "/session"):
    for root, _dirs, files in os.walk(top):
        for name in files:
            look(read(os.path.join(root, name)))
print("nothing")
