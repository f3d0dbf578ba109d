# Attack: stay under the per-process memory limit in each of several processes, together far over
# what one sandbox may use ($1 processes of $2 MiB each, touched, held for a few seconds).
pids=""
i=0
while [ "$i" -lt "$1" ]; do
    python3 -c "import time; b = b'x' * ($2 << 20); print('holding', flush=True); time.sleep(4)" &
    pids="$pids $!"
    i=$((i + 1))
done
for pid in $pids; do
    wait "$pid"
    echo "status=$?"
done
