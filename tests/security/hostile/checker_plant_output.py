# A program case judged by a checker, which prints one thing and tries to make the checker
# read another: it writes "planted" wherever the checker might look for the output (its
# own directory, /tmp, /dev/shm, the session, the checker's directory), and leaves a
# child behind that keeps trying for seconds after the program ended, to be alive when
# the checker's directory opens: it would plant the output there and copy what it can
# read of the checker's files into the session (`leak.txt`).
import os
import time

for path in (".output", "/tmp/.output", "/dev/shm/.output", "/session/.output", "/judge/.output"):
    try:
        with open(path, "w") as f:
            f.write("planted\n")
    except OSError:
        pass

if os.fork() == 0:
    os.setsid()
    end = time.monotonic() + 4
    while time.monotonic() < end:
        try:
            with open("/judge/.output", "w") as f:
                f.write("planted\n")
        except OSError:
            pass
        for name in (".answer", ".checker.py", ".input"):
            try:
                with open(f"/judge/{name}") as f, open("/session/leak.txt", "a") as leak:
                    leak.write(f.read())
            except OSError:
                pass
        time.sleep(0.001)
    os._exit(0)
print("honest")
