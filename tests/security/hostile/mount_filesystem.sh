# Attack: mount over the read-only system, or a fresh proc/tmpfs.
mkdir -p /tmp/m
mount -t tmpfs none /tmp/m 2>&1; echo "mount tmpfs exit=$?"
mount -o remount,rw / 2>&1; echo "remount / exit=$?"
mount --bind /tmp /usr 2>&1; echo "bind exit=$?"
python3 - <<'PY'
import ctypes, os
libc = ctypes.CDLL(None, use_errno=True)
r = libc.mount(b"none", b"/tmp/m", b"tmpfs", 0, None)
print("mount(2)", r, os.strerror(ctypes.get_errno()))
PY
