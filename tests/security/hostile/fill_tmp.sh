# Attack: fill /tmp and /dev/shm (memory-backed) until something stops us.
head -c 4294967296 /dev/zero > /tmp/fill.bin; echo "tmp exit=$?"
head -c 4294967296 /dev/zero > /dev/shm/fill.bin; echo "shm exit=$?"
ls -la /tmp/fill.bin /dev/shm/fill.bin
