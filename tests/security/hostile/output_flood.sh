# Attack: flood the service with output on both streams.
yes "flood flood flood flood flood flood flood flood" &
yes "flood flood flood flood flood flood flood flood" >&2
