# Attack: plant files in (or overwrite) the system that every sandbox and the host run.
for target in /usr/pwned /etc/pwned /bin/pwned /usr/bin/python3 /etc/passwd /pwned /opt/pwned /dev/pwned; do
    if ( echo pwned > "$target" ) 2>/dev/null; then echo "WROTE $target"; else echo "denied $target"; fi
done
