"""An interactor for a guessing game: the input is n, the answer the secret (1 <= secret <=
n). The program is told n, asks `? x` (the answer: `>=` when secret >= x, else `<`) at
most ceil(log2 n) times, and ends with `! x`."""

import math


def interact(input, answer, receive, send):
    n, secret = int(input), int(answer)
    allowed = math.ceil(math.log2(n)) if n > 1 else 0
    send(n)
    queries = 0
    while True:
        line = receive()
        kind, _, value = line.partition(" ")
        if kind == "!":
            return int(value) == secret, f"answered {value} after {queries} queries"
        if kind != "?":
            return False, f"not a query: {line[:40]!r}"
        queries += 1
        if queries > allowed:
            return False, f"more than {allowed} queries"
        send(">=" if secret >= int(value) else "<")
