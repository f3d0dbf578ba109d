"""Runs in: a test-code case (a unit and the solution's process it forks).

Test-code mode (docs/api.md §4.2): the tests run in a unit, the solution in a child of it
(`judge`), the two talking through `remote`; `asserts` makes failing asserts explain
themselves and `unittests` runs one unittest method.
"""
