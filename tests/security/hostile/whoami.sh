# Probe: who sandboxed code is, and what it holds.
echo "uid=$(id -u) gid=$(id -g) groups=$(id -G)"
grep -E '^(Uid|Gid|CapInh|CapPrm|CapEff|CapBnd|CapAmb|NoNewPrivs|Seccomp):' /proc/self/status
