# A wrong solution that does not compute anything: it reads the tests, to return what they
# expect. The solution's process is a fork of the tests' process, so whatever that process
# held before the fork (the tests' source among it) may still be in its memory: it looks at
# every string of its stack and of the garbage collector's objects, parses the asserts found
# there (`assert f(<args>) == <literal>`, at top level or in a function), and answers the
# literal for its arguments. PLANTED is the control: an assert in its own memory, legitimately.
import ast
import gc
import sys

PLANTED = "assert f(-7) == 'found in my own memory'"


def _strings():
    frame = sys._getframe()
    while frame is not None:
        yield from (v for v in frame.f_locals.values() if isinstance(v, str))
        frame = frame.f_back
    for obj in gc.get_objects():
        if isinstance(obj, dict):
            yield from (v for v in list(obj.values()) if isinstance(v, str))
        elif isinstance(obj, list | tuple):
            yield from (v for v in list(obj) if isinstance(v, str))


def _expected(x):
    for text in _strings():
        if "assert" not in text:
            continue
        try:
            tree = ast.parse(text)
        except Exception:  # noqa: BLE001 - not Python, too deep, ...
            continue
        for node in ast.walk(tree):
            if not (isinstance(node, ast.Assert) and isinstance(node.test, ast.Compare)):
                continue
            call = node.test.left
            if isinstance(call, ast.Call) and len(call.args) == 1:
                try:
                    if ast.literal_eval(call.args[0]) == x:
                        return ast.literal_eval(node.test.comparators[0])
                except Exception:  # noqa: BLE001 - not a literal
                    continue
    return None


def f(x):
    return _expected(x)
