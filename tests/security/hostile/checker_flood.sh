# A command checker that floods both its streams and never exits on its own.
yes checker-flood-out &
yes checker-flood-err >&2
