# A wrong solution: asked to raise, it does not (f(how) never raises an exception of its
# own). It vanishes instead, hoping the tests' `except:` takes that for the exception they
# expected: "exit" (os._exit(0)), "kill" (SIGKILL to itself), "close" (closes its end of
# the socket to the tests, then answers 0), "garbage" (writes a malformed frame to that
# socket, then answers 0). "raise" is the honest way, for the control; "return" answers 0.
import os
import signal
import stat


def _sockets():
    found = []
    for fd in range(3, 256):
        try:
            if stat.S_ISSOCK(os.fstat(fd).st_mode):
                found.append(fd)
        except OSError:
            pass
    return found


def f(how):
    if how == "raise":
        raise ValueError("the honest way")
    if how == "exit":
        os._exit(0)
    if how == "kill":
        os.kill(os.getpid(), signal.SIGKILL)
    if how == "close":
        for fd in _sockets():
            os.close(fd)
    if how == "garbage":
        for fd in _sockets():
            os.write(fd, b"\xff\xff\xff\xffnot a frame")
    return 0
