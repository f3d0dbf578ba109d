"""A checker for "print any shortest path from 1 to n": the output must be a path of the
graph in the input, from 1 to n, with as many vertices as the answer says."""


def check(input, expected, output):
    n, m, *rest = map(int, input.split())
    edges = {frozenset(pair) for pair in zip(rest[::2], rest[1::2], strict=True)}
    try:
        path = [int(token) for token in output.split()]
    except ValueError:
        return False, "not a list of vertices"
    if len(path) != int(expected):
        return False, f"{len(path)} vertices, a shortest path has {int(expected)}"
    if path[0] != 1 or path[-1] != n:
        return False, "not from 1 to n"
    for u, v in zip(path, path[1:], strict=False):
        if frozenset((u, v)) not in edges:
            return False, f"no edge {u}-{v}"
    return True
