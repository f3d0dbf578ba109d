# Attack: gain root through setuid-root binaries of the system.
ls -l /usr/bin/mount /usr/bin/su /usr/bin/passwd 2>&1
mkdir -p /tmp/m
/usr/bin/mount -t tmpfs none /tmp/m 2>&1; echo "setuid mount exit=$?"
echo | /usr/bin/su root -c 'id -u' 2>&1; echo "su exit=$?"
/usr/bin/newgrp root </dev/null 2>&1; echo "newgrp exit=$?"
echo "uid after=$(id -u)"
