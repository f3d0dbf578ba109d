# Leave state behind: a file in /tmp, one in /dev/shm, and a process ($1: marker).
echo secret > /tmp/left-behind
echo secret > /dev/shm/left-behind
sleep "$1" &
echo "written"
