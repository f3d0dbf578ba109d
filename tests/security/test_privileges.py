"""docs/api.md §7.3, privileges: sandboxed code runs as an unprivileged user with no capabilities
and cannot gain any: no user namespace, no mount, no ptrace, nothing from setuid binaries."""

from __future__ import annotations

from tests.security.support import run_hostile
from tests.support.service import Service


def status_fields(text: str) -> dict[str, str]:
    return {k: v.strip() for k, _, v in (line.partition(":") for line in text.splitlines()) if v}


def test_unprivileged_uid_no_capabilities_no_new_privs(service: Service, session: str):
    result = run_hostile(service, session, "whoami.sh")
    first, rest = result["stdout"].split("\n", 1)
    uid = service.sandbox_uid
    assert first == f"uid={uid} gid={uid} groups={uid}", result
    status = status_fields(rest)
    assert status["Uid"].split() == [str(uid)] * 4 and status["Gid"].split() == [str(uid)] * 4
    for cap in ("CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"):
        assert int(status[cap], 16) == 0, (cap, status[cap])
    assert status["NoNewPrivs"] == "1"
    assert status["Seccomp"] == "2", "no seccomp filter on sandboxed code"


def test_evaluated_code_is_just_as_unprivileged(service: Service, session: str):
    code = ("import os\n"
            "def who():\n"
            "    status = dict(l.split(':', 1) for l in open('/proc/self/status') if ':' in l)\n"
            "    return [os.getuid(), os.getgid(), os.getgroups(), status['CapEff'].strip(),\n"
            "            status['NoNewPrivs'].strip(), status['Seccomp'].strip()]\n")
    got = service.evaluate(code, "who", [("", "None")], session=session)["case_results"][0]["got"]
    uid = service.sandbox_uid
    assert got == [uid, uid, [], "0000000000000000", "1", "2"], got


def test_user_namespaces_cannot_be_created(service: Service, session: str):
    result = run_hostile(service, session, "unshare_user_namespace.sh")
    out = result["stdout"]
    assert "unshare -r exit=1" in out and "unshare -Ur exit=1" in out, result
    assert "unshare(CLONE_NEWUSER) -1 Operation not permitted" in out, result
    assert "clone(CLONE_NEWUSER) -1 Operation not permitted" in out, result
    assert "uid=0" not in out


def test_nothing_can_be_mounted(service: Service, session: str):
    result = run_hostile(service, session, "mount_filesystem.sh")
    out = result["stdout"]
    for what in ("mount tmpfs", "remount /", "bind"):
        assert f"{what} exit=0" not in out, result
    assert "mount(2) -1 Operation not permitted" in out, result


def test_ptrace_fails_on_every_process(service: Service, session: str):
    result = run_hostile(service, session, "ptrace_attach.py")
    lines = [line for line in result["stdout"].splitlines() if line.startswith("ptrace attach")]
    assert len(lines) == 3, result  # our own child, pid 1, our parent
    assert all(line.endswith("-1 Operation not permitted") for line in lines), result
    assert "process_vm_readv -1 Operation not permitted" in result["stdout"], result


def test_setuid_binaries_give_nothing(service: Service, session: str):
    result = run_hostile(service, session, "setuid_escalation.sh")
    out = result["stdout"]
    assert "-rwsr-xr-x 1 root root" in out, "no setuid-root binary to try: the test would prove nothing"
    assert "setuid mount exit=0" not in out and "must be superuser" in out, result
    assert "su exit=0" not in out and "\n0\n" not in out, result
    assert f"uid after={service.sandbox_uid}" in out, result
