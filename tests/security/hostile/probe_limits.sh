# Probe, run before any exhaustion attack: are the limits in force? (Bounded by itself: it
# starts at most $1 sleepers, then stops them.)
echo "uid=$(id -u)"
grep -E '^(CapEff|CapPrm|NoNewPrivs):' /proc/self/status
echo "nproc=$(python3 -c "import resource; print(resource.getrlimit(resource.RLIMIT_NPROC)[0])")"
echo "vmem=$(ulimit -v)"
grep -E ':(pids|memory):|^0::' /proc/self/cgroup | sed 's/^/cgroup=/'
python3 - "$1" <<'PY'
import subprocess
import sys

procs = []
for _ in range(int(sys.argv[1])):
    try:
        procs.append(subprocess.Popen(["sleep", "30"]))
    except OSError:
        break
print(f"sleepers={len(procs)}")
for p in procs:
    p.kill()
    p.wait()
PY
