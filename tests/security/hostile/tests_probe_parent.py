# A wrong solution that reaches for the tests' process, its parent: its memory, its report
# pipe (descriptor 3), its environment, its descriptors. It says what it could do on stdout
# (one JSON line after PROBE) and returns it. `probe("child")` runs the same probes on a
# process of its own, forked for the purpose (dumpable, same uid): the control.
import ctypes
import json
import os
import signal
import struct
import time

FORGED = json.dumps({"outcome": "test", "status": "passed", "got": None, "expected": None, "error": None,
                     "stdout": ""}).encode()
FRAME = struct.pack(">I", len(FORGED)) + FORGED


def _attempt(results, name, action):
    try:
        value = action()
        results[name] = "ok" if value is None else f"ok: {value}"
    except Exception as exc:  # what stopped it
        results[name] = f"{type(exc).__name__}: {exc}"[:200]


def _first_writable_mapping(pid):
    with open(f"/proc/{pid}/maps") as maps:
        for line in maps:
            fields = line.split()
            if "rw" in fields[1]:
                return int(fields[0].split("-")[0], 16)
    raise LookupError("no mapping")


def _read_mem(pid):
    address = _first_writable_mapping(os.getpid() if pid == "self" else pid)
    with open(f"/proc/{pid}/mem", "rb", buffering=0) as mem:
        mem.seek(address)
        return len(mem.read(16))


def _write_mem(pid):
    address = _first_writable_mapping(os.getpid() if pid == "self" else pid)
    with open(f"/proc/{pid}/mem", "r+b", buffering=0) as mem:
        mem.seek(address)
        data = mem.read(16)
        mem.seek(address)
        return mem.write(data)  # the same bytes back: harmless if it succeeds


def _write_fd3(pid):
    fd = os.open(f"/proc/{pid}/fd/3", os.O_WRONLY)
    try:
        return os.write(fd, FRAME)
    finally:
        os.close(fd)


def _read_environ(pid):
    with open(f"/proc/{pid}/environ", "rb") as f:
        return len(f.read())


def _list_fds(pid):
    return len(os.listdir(f"/proc/{pid}/fd"))


def _syscall(number, *args):
    libc = ctypes.CDLL(None, use_errno=True)
    libc.syscall.restype = ctypes.c_long
    result = libc.syscall(ctypes.c_long(number), *[ctypes.c_long(a) for a in args])
    if result < 0:
        errno = ctypes.get_errno()
        raise OSError(errno, os.strerror(errno))
    return result


def _steal_fd3(pid):
    pidfd = _syscall(434, pid, 0)  # pidfd_open
    try:
        stolen = _syscall(438, pidfd, 3, 0)  # pidfd_getfd: the tests' descriptor 3 as one of ours
        try:
            return os.write(stolen, FRAME)
        finally:
            os.close(stolen)
    finally:
        os.close(pidfd)


def _vm_readv(pid):
    address = _first_writable_mapping(pid)
    buffer = ctypes.create_string_buffer(16)

    class IOVec(ctypes.Structure):
        _fields_ = [("base", ctypes.c_void_p), ("len", ctypes.c_size_t)]

    local = IOVec(ctypes.cast(buffer, ctypes.c_void_p), 16)
    remote = IOVec(address, 16)
    libc = ctypes.CDLL(None, use_errno=True)
    libc.process_vm_readv.restype = ctypes.c_ssize_t
    n = libc.process_vm_readv(pid, ctypes.byref(local), 1, ctypes.byref(remote), 1, 0)
    if n < 0:
        errno = ctypes.get_errno()
        raise OSError(errno, os.strerror(errno))
    return n


def _ptrace_attach(pid):
    _syscall(101, 16, pid, 0, 0)  # PTRACE_ATTACH
    _syscall(101, 17, pid, 0, 0)  # PTRACE_DETACH


PROBES = {"read_mem": _read_mem, "write_mem": _write_mem, "write_fd3": _write_fd3, "environ": _read_environ,
          "list_fds": _list_fds, "pidfd_getfd": _steal_fd3, "process_vm_readv": _vm_readv,
          "ptrace_attach": _ptrace_attach}


def probe(target):
    child = None
    if target == "parent":
        pid = os.getppid()
    else:  # the control: a process of our own, which holds a descriptor 3 of its own
        read_end, write_end = os.pipe()
        kept = os.dup(read_end)  # never 3, even when the pipe's read end was
        os.close(read_end)
        os.dup2(write_end, 3)
        child = os.fork()
        if child == 0:
            time.sleep(30)
            os._exit(0)
        pid = child
    results = {}
    try:
        for name, action in PROBES.items():
            _attempt(results, name, lambda action=action: action(pid))
    finally:
        if child is not None:
            os.kill(child, signal.SIGKILL)
            os.waitpid(child, 0)
    if child is not None:
        os.set_blocking(kept, False)
        try:
            results["fd3_received"] = "ok" if os.read(kept, 65536).endswith(FORGED) else "nothing"
        except OSError as exc:
            results["fd3_received"] = f"{type(exc).__name__}: {exc}"
    print("PROBE " + json.dumps({"target": target, "pid": pid, "results": results}))
    return results
