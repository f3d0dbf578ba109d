# Attack (evaluated code): spin forever, ignoring the signals it may catch.
import signal


def spin():
    for sig in (signal.SIGTERM, signal.SIGXCPU, signal.SIGINT):
        signal.signal(sig, signal.SIG_IGN)
    while True:
        pass
