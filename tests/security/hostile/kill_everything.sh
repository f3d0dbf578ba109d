# Attack: SIGKILL every process the caller may signal (on the host: the service itself).
kill -9 -1
echo "kill exit=$?"
python3 -c "import os, signal; os.kill(-1, signal.SIGKILL)"
echo "still here"
