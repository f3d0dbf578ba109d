"""Create COUNT (argv[1]) empty files in directory DIR (argv[2]): a session too large to
list whole, slow to copy, and a wall of entries to hide bytes behind."""
import os
import sys

count, directory = int(sys.argv[1]), sys.argv[2]
os.makedirs(directory, exist_ok=True)
fd = os.open(directory, os.O_RDONLY)
for i in range(count):
    os.close(os.open(f"e{i}", os.O_WRONLY | os.O_CREAT, 0o644, dir_fd=fd))
print("created", count)
