# Attack: leave a process behind after the request ends ($1: a marker argument to find it by).
sleep "$1" &
nohup sleep "$1" >/dev/null 2>&1 &
setsid sleep "$1" &
echo "started"
