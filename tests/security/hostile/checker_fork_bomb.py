# A Python checker that forks until it cannot, every child sleeping forever under a
# marker in its command line, then accepts: its processes must not outlive its run, and
# the sandbox must come back for the next request.
import os
import sys
import time


def check(input, expected, output):
    forked = 0
    while forked < 10000:
        try:
            pid = os.fork()
        except OSError:
            break
        if pid == 0:
            try:
                os.execv("/bin/sh", ["/bin/sh", "-c", f"exec -a {input.strip()} sleep 1000"])
            finally:
                os._exit(0)
        forked += 1
    print(f"forked {forked}", file=sys.stderr)
    time.sleep(0.2)
    return True
