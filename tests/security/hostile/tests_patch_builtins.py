# A wrong solution (its answer is "zz") that patches what the tests would use to judge it:
# builtins.sorted, len and isinstance (lying only to code of the module the tests run as,
# "tests", so that its own process keeps answering), builtins.AssertionError, and
# sys.modules["unittest"] (a TestCase whose assertions never fail); and globals of its own
# named like those builtins, and `unittest`.
import builtins
import sys
import types

_real = {"sorted": builtins.sorted, "len": builtins.len, "isinstance": builtins.isinstance}


def _lying(name, lie):
    real = _real[name]

    def patched(*args, **kwargs):
        if sys._getframe(1).f_globals.get("__name__") in ("tests", "__main__"):
            return lie(*args, **kwargs)
        return real(*args, **kwargs)

    return patched


def _passing(*args, **kwargs):
    return None


class PassingTestCase:
    def __init__(self, name="runTest"):
        self.name = name

    def __getattr__(self, name):
        return _passing


fake_unittest = types.ModuleType("unittest")
fake_unittest.TestCase = PassingTestCase
fake_unittest.main = _passing
sys.modules["unittest"] = fake_unittest

builtins.sorted = _lying("sorted", lambda *args, **kwargs: ["a", "b", "c"])
builtins.len = _lying("len", lambda *args: 3)
builtins.isinstance = _lying("isinstance", lambda *args: True)
builtins.AssertionError = type("AssertionError", (Exception,), {})

sorted = builtins.sorted  # the point: globals the tests might pick up
len = builtins.len
isinstance = builtins.isinstance
unittest = fake_unittest


def f():
    return "zz"
