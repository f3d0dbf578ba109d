# A command checker that closes its stdout and stderr and never exits, with a child that
# does the same: its timeout ends both.
exec >&- 2>&-
sleep 1000 &
while :; do :; done
