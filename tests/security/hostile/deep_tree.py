"""Build a directory tree LEVELS deep (argv[1]) with a file at the bottom, to break
recursive walks (list, fork, delete, usage, the TTL sweep)."""
import os
import sys

levels = int(sys.argv[1])
fd = os.open(".", os.O_RDONLY)
os.mkdir("deep", dir_fd=fd)
cur = os.open("deep", os.O_RDONLY, dir_fd=fd)
for _ in range(levels - 1):
    os.mkdir("d", dir_fd=cur)
    nxt = os.open("d", os.O_RDONLY, dir_fd=cur)
    os.close(cur)
    cur = nxt
wfd = os.open("bottom.txt", os.O_WRONLY | os.O_CREAT, 0o644, dir_fd=cur)
os.write(wfd, b"bottom\n")
print("built", levels)
