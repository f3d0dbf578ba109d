"""Benchmark harness for the sandboxed Python REPL API.

The harness measures the service and, in the same run, the baselines its performance
targets are stated against (above all a simple grader with a process pool per request
under the same gunicorn settings, plus a bare fork per case, a naive subprocess-per-case
evaluator, a bare ``python3 -c pass``, and a bare Flask echo app), so every figure can be
read as a ratio that holds on whatever machine the run happened on. See ``bench/README.md``.
"""
