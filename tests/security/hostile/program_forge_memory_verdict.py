# A program that crashes on its own, holding little, and tries to pass for one that ran out
# of memory: the service's own words on stderr and stdout (a MemoryLimitExceeded line with
# a peak at the limit), a large address space it never touches, and its own RLIMIT_AS
# lowered to what it holds. Then SIGSEGV. Its status must stay `crashed`.
import mmap
import os
import resource
import signal
import sys

CLAIM = "MemoryLimitExceeded: the program was killed by signal SIGSEGV after using 255 MiB of its 256 MiB memory limit"
print(CLAIM, flush=True)
sys.stderr.write(CLAIM + "\n")
sys.stderr.flush()
reserved = mmap.mmap(-1, 100 << 20, prot=0)  # PROT_NONE: address space, never resident
used = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss << 10
resource.setrlimit(resource.RLIMIT_AS, (used, resource.getrlimit(resource.RLIMIT_AS)[1]))
os.kill(os.getpid(), signal.SIGSEGV)
