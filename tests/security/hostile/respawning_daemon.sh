# Attack: escape the reaper with a double-forked daemon in a new session that keeps
# forking, so a kill that walks the process list can miss its newest child ($1: marker).
( setsid sh -c "trap '' HUP TERM; while :; do sleep $1 & sleep 0.01; done" >/dev/null 2>&1 & )
sleep 0.3
echo "launched"
