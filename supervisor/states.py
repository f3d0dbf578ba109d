"""The states a sandbox of the pool goes through, and the moves allowed between them.

Kept free of imports (like Supervisor's `states.py`) so that any module, and any test, can
use the table. `supervisor.pool.Pool.transition` is the only code that changes a sandbox's
state, and it refuses every move the table does not list: a state machine whose moves are
scattered over event handlers is how a sandbox ends up "busy" with no job, or a pool
waiting forever for sandboxes nobody asked for.

    STARTING --ready--> IDLE --job--> BUSY --report--> CLEANING --ready--> IDLE ...
        \\                 \\            \\                  \\
         `--failed/died--> DONE  `--died--> DONE  `--death/kill--> DONE  `--died / retired--> DONE

A sandbox serves job after job: after its report it restores itself to a fresh state
(CLEANING; the session's disk usage may arrive meanwhile) and says it is ready again.
"""


class SandboxState:
    """Where one sandbox is in its life."""

    STARTING = "starting"  # forked by the zygote, confining itself
    IDLE = "idle"          # confined and waiting for a job
    BUSY = "busy"          # running exactly one job
    CLEANING = "cleaning"  # its job answered; restoring a fresh state before the next one
    DONE = "done"          # it died or is retired; only its exit is awaited


TRANSITIONS: dict[str, frozenset[str]] = {
    SandboxState.STARTING: frozenset({SandboxState.IDLE, SandboxState.DONE}),
    SandboxState.IDLE: frozenset({SandboxState.BUSY, SandboxState.DONE}),
    SandboxState.BUSY: frozenset({SandboxState.CLEANING, SandboxState.DONE}),
    SandboxState.CLEANING: frozenset({SandboxState.IDLE, SandboxState.DONE}),
    SandboxState.DONE: frozenset(),
}


class TransitionError(RuntimeError):
    """A move the table does not allow: a bug in the pool, never the user's doing."""


def check_transition(old: str, new: str) -> None:
    """Raise TransitionError unless `old -> new` is in TRANSITIONS."""
    if new not in TRANSITIONS.get(old, frozenset()):
        raise TransitionError(f"a sandbox cannot go from {old!r} to {new!r}")
