# Attack: fill the host's disk through the session directory, one file under the per-file
# limit after another, until something stops us.
i=0
while head -c 16777216 /dev/zero > "fill-$i.bin"; do
    i=$((i + 1))
done
echo "stopped after $i files"
