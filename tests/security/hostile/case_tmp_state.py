# Each case looks for what an earlier case left in /tmp and /dev/shm, then leaves its own;
# it also fills /tmp to the brim, so a case that inherited it would fail to write.
import os


def probe(index):
    found = sorted(os.listdir("/tmp")) + sorted("shm:" + n for n in os.listdir("/dev/shm"))
    with open(f"/tmp/small-{index}", "w") as f:
        f.write("x")
    with open(f"/dev/shm/left-{index}", "w") as f:
        f.write("x")
    try:
        with open("/tmp/filler", "wb") as f:
            while True:
                f.write(b"\0" * (1 << 20))
    except OSError as exc:
        full = exc.errno
    return found, full
