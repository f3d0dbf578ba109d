"""Write MB megabytes (argv[1]) in 8 MiB files into wall/z/, below a directory `wall/`
that holds ENTRIES (argv[2]) empty files: a walk that stops counting after a fixed number
of entries (it once stopped at 200,000) never reaches them, so the quota would not see them."""
import os
import sys

megabytes = int(sys.argv[1])
entries = int(sys.argv[2])
os.makedirs("wall/z", exist_ok=True)
fd = os.open("wall", os.O_RDONLY)
for i in range(entries):
    os.close(os.open(f"e{i}", os.O_WRONLY | os.O_CREAT, 0o644, dir_fd=fd))
chunk = b"x" * (1 << 20)
written = 0
try:
    for n in range(megabytes // 8 + 1):
        with open(f"wall/z/big{n}", "wb") as f:
            for _ in range(8):
                if written >= megabytes:
                    break
                f.write(chunk)
                written += 1
except OSError as exc:
    print("write failed:", exc, file=sys.stderr)
    sys.exit(1)
print("wrote", written, "MiB")
