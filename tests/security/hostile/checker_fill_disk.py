# A Python checker that fills every place it may write (its own directory, /tmp, /dev/shm)
# until the disk says no, then refuses the case: the space it took is given back before
# the next case and the next request.
import errno
import os


def check(input, expected, output):
    filled = []
    for place in (".", "/tmp", "/dev/shm"):
        try:
            with open(os.path.join(place, "filler"), "wb") as file:
                while True:
                    file.write(b"\0" * (1 << 20))
        except OSError as exc:
            filled.append(f"{place}: {errno.errorcode.get(exc.errno, exc.errno)}")
    return False, "; ".join(filled)
