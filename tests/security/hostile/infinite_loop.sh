# Attack: spin forever.
while :; do :; done
