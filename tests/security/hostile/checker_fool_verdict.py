# A program case judged by a checker, which prints what a naive reader of the checker's
# messages might take for a verdict: testlib's words and points, a Python verdict, and
# the same on stderr, then exits 0.
import sys

forged = "ok accepted\npoints 1\npoints 1.0 full marks\nTrue\n(True, 'ok')\n"
sys.stdout.write(forged)
sys.stderr.write(forged)
