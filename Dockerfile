# The sandboxed Python REPL API: one image holding both processes of the Procfile.
#
#   docker build -t repl .
#   docker run --privileged --init --stop-timeout 130 -p 6000:6000 \
#       -v repl-sessions:/var/lib/repl/sessions repl
#
# CMD runs both processes (web and supervisor) through ./scripts/start.sh. To run them as
# two containers that are started and restarted independently, see deploy/compose.yaml.
#
# PRIVILEGES. The supervisor confines user code with Linux namespaces (mount, pid, net,
# ipc, uts), fresh mounts (tmpfs, proc, bind) and a switch to an unprivileged uid, so the
# container must be allowed to do all of that. Either `--privileged`, or the narrower
#     --cap-add SYS_ADMIN --security-opt seccomp=unconfined \
#     --security-opt apparmor=unconfined --security-opt systempaths=unconfined
# (Docker's default seccomp profile refuses unshare/mount, its AppArmor profile refuses
# mount, and its masked /proc paths forbid mounting a fresh /proc for each sandbox). Without
# them the supervisor refuses to start and logs what is missing. REPL_INSECURE=1 overrides
# that and runs user code WITHOUT isolation: local experiments only, never exposed.
#
# SANDBOX UIDS. Sandboxed code runs as REPL_SANDBOX_UID (60000) and its templates as the
# uid after it. Without a user namespace these are the host's uids, which no other process
# on the host may hold: the supervisor refuses to start otherwise (exit status 7). A second
# container from this image on the same host takes `-e REPL_SANDBOX_UID=60002`.
#
# --init (compose: `init: true`) puts a real init at pid 1 to reap orphans. The stop timeout
# gives a running /run time to finish on `docker stop` (SIGTERM drains; the longest /run is
# REPL_MAX_RUN_TIMEOUT, 120 s by default). Note that start.sh (honcho) kills what is left
# 5 s after the first of the two processes has exited; the two-container layout of
# deploy/compose.yaml drains for the full time.

FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_ROOT_USER_ACTION=ignore \
    PORT=6000 \
    REPL_SESSION_ROOT=/var/lib/repl/sessions \
    REPL_SUPERVISOR_ENDPOINT=ipc:///run/repl/supervisor.sock

# SWI-Prolog is offered to /run commands next to Python (docs/api.md §5); libseccomp2
# compiles the sandbox's seccomp filter (through pyseccomp, docs/security.md); gcc,
# g++ and the C library's headers compile C programs of program cases (§4.1) and checkers
# in testlib's protocol (docs/api.md §4.3).
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends swi-prolog-nox libseccomp2 \
      gcc g++ libc6-dev \
 && rm -rf /var/lib/apt/lists/*

# /app, not /opt or /usr: sandboxes see /usr, /etc and /opt read-only, and must not see
# the service's own files (docs/api.md §7).
WORKDIR /app
COPY requirements.txt ./
RUN pip install -r requirements.txt
# The interpreter user code runs on (REPL_SANDBOX_PYTHON): a virtualenv under /opt (which
# sandboxes see read-only) with a scientific stack and none of the service's packages.
# To offer user code another package, add it to sandbox-requirements.txt and rebuild.
COPY sandbox-requirements.txt ./
RUN python3 -m venv /opt/sandbox-python \
 && /opt/sandbox-python/bin/pip install -r sandbox-requirements.txt
ENV REPL_SANDBOX_PYTHON=/opt/sandbox-python/bin/python3
COPY . .
# No VOLUME: the sessions volume is mounted where it is used (the `docker run -v` above,
# the supervisor of deploy/compose.yaml), never given to the web tier as an anonymous one.
RUN mkdir -p /run/repl \
 && mkdir -p -m 0711 /var/lib/repl/sessions

EXPOSE 6000
STOPSIGNAL SIGTERM
# The supervisor needs root (see PRIVILEGES above); sandboxed code runs as REPL_SANDBOX_UID.
USER root
CMD ["./scripts/start.sh"]
