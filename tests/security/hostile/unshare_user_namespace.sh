# Attack: become "root" in a new user namespace (the door to mount, netns and many kernel bugs).
unshare -r id 2>&1; echo "unshare -r exit=$?"
unshare -Ur sh -c 'id -u' 2>&1; echo "unshare -Ur exit=$?"
python3 - <<'PY'
import ctypes, os, platform
libc = ctypes.CDLL(None, use_errno=True)
CLONE_NEWUSER = 0x10000000
r = libc.unshare(CLONE_NEWUSER)
print("unshare(CLONE_NEWUSER)", r, os.strerror(ctypes.get_errno()))
# clone(2) with CLONE_NEWUSER | SIGCHLD: a child in a new user namespace.
SYS_CLONE = {"x86_64": 56, "aarch64": 220}[platform.machine()]
r = libc.syscall(SYS_CLONE, CLONE_NEWUSER | 17, 0, 0, 0, 0)
if r == 0:
    os._exit(0)
print("clone(CLONE_NEWUSER)", r, os.strerror(ctypes.get_errno()))
PY
