# Attack: read the host's password hashes.
cat /etc/shadow /etc/gshadow 2>&1
echo "exit=$?"
