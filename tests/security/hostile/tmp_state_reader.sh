# Look for what an earlier execution left behind ($1: marker).
for f in /tmp/left-behind /dev/shm/left-behind; do
    if [ -e "$f" ]; then echo "FOUND $f: $(cat "$f")"; fi
done
ls -A /tmp /dev/shm
for d in /proc/[0-9]*; do tr '\0' ' ' < "$d/cmdline" 2>/dev/null; echo; done | grep "^sleep $1" || echo "no process"
