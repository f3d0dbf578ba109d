# Attack (evaluated code): print without end.
def flood():
    line = "flood " * 100
    while True:
        print(line)
