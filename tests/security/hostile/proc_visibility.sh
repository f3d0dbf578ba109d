# Probe: every process sandboxed code can see, with its command line.
for d in /proc/[0-9]*; do
    echo "${d#/proc/} $(tr '\0' ' ' < "$d/cmdline" 2>/dev/null)"
done
