# Attack: list the directory holding every session: by its host path ($1), by the sandbox's
# mount point of it, and from the session's parent directory.
ls -la "$1" 2>&1
ls -la /.sessions 2>&1
ls -a /session/..
echo "done"
