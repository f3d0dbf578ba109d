# Attack: read another session's file by its absolute host path ($1), and hunt for it by name ($2).
cat "$1" 2>&1
echo "--- find"
find / -name "$2" 2>/dev/null
echo "--- end"
