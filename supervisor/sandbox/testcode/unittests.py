"""Runs in: a test-code case's tests' process.

One unittest test method run alone, for a test-code case (see `judge`).

`unittest` itself is imported only by the units that run one (for
tests that import it), never into the template every case is forked from.
"""

from __future__ import annotations

from typing import Any


def _result_class() -> type:
    """The result that keeps the first failure or error of the one test run, as an
    exception (made when first needed: `unittest` is imported then)."""
    import unittest

    class _Result(unittest.TestResult):
        def __init__(self) -> None:
            super().__init__()
            self.outcome: tuple[str, BaseException] | None = None
            self.skip_reason: str | None = None

        def _keep(self, status: str, err: Any) -> None:
            if self.outcome is None:
                self.outcome = (status, err[1])

        def addFailure(self, test: Any, err: Any) -> None:  # noqa: N802 - unittest's name
            self._keep("failed", err)

        def addError(self, test: Any, err: Any) -> None:  # noqa: N802
            self._keep("memory" if isinstance(err[1], MemoryError) else "error", err)

        def addSubTest(self, test: Any, subtest: Any, err: Any) -> None:  # noqa: N802
            if err is not None:
                self._keep("failed" if issubclass(err[0], test.failureException) else "error", err)

        def addSkip(self, test: Any, reason: str) -> None:  # noqa: N802
            self.skip_reason = reason

        def addUnexpectedSuccess(self, test: Any) -> None:  # noqa: N802
            if self.outcome is None:
                self.outcome = ("failed", AssertionError("unexpected success of a test marked expectedFailure"))

    return _Result


def run_one(namespace: dict[str, Any], class_name: str, method: str) -> tuple[str, BaseException | str] | None:
    """Run `class_name.method` with its class's fixtures; None when it passed, else its
    status and the exception (or, for a skip, the text) that says why."""
    import unittest

    cls = namespace.get(class_name)
    if not isinstance(cls, type) or not issubclass(cls, unittest.TestCase):
        return "error", f"NameError: {class_name} is not a unittest.TestCase class"
    result: Any = _result_class()()
    unittest.TestSuite([cls(method)]).run(result)
    if result.outcome is not None:
        return result.outcome
    if result.skip_reason is not None:
        return "skipped", f"Skipped: {result.skip_reason}"
    return None
