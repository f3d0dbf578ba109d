# A wrong solution (its answer is 0) that raises what a harness might take for a skip or
# for the end of the run instead of answering: unittest.SkipTest (and a subclass),
# SystemExit(0), KeyboardInterrupt, GeneratorExit. `f(kind)`.
import unittest


class QuietSkip(unittest.SkipTest):
    pass


def f(kind):
    if kind == "skip":
        raise unittest.SkipTest("skipped by the solution")
    if kind == "skip-subclass":
        raise QuietSkip("skipped by the solution")
    if kind == "exit":
        raise SystemExit(0)
    if kind == "interrupt":
        raise KeyboardInterrupt
    if kind == "generator-exit":
        raise GeneratorExit
    return 0
