# A shell that lowers its own memory limit far below the case's (ulimit -v, in KiB), then
# runs out of that: it held little of the case's limit, so it ran out of nothing the
# request gave it, and its status must not be `memory`.
ulimit -v 40000
x=$(yes | head -c 100000000)
echo "${#x}"
