"""Leave a FIFO and a bound unix socket in the session (fork must copy the FIFO and say
that it skipped the socket)."""
import os
import socket

os.mkfifo("pipe", 0o640)
os.mkdir("sock")
s = socket.socket(socket.AF_UNIX)
s.bind("sock/listener")
print("made")
