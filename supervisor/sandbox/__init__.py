"""Code that runs inside the zygote and the sandboxes, named by the process it runs in.

One name per process, used the same way in code, docs and logs:

- zygote (`zygote`): single-threaded, started before any ZeroMQ context; forks every sandbox.
- init (`init`): pid 1 of a sandbox's namespaces; serves job after job (up to `REPL_SANDBOX_MAX_JOBS`),
  watches units (`watch`), decides verdicts, cleans between executions (`hygiene`). Never
  runs user code.
- template (`template`): confined once per sandbox; forks every unit; never runs user code.
  The spare is a unit forked ahead of the next job.
- unit (`unit`): the only kind of process that runs user code: a `/run` command, a program
  case, or a function case (`function_case`) or a test-code case (`testcode/`).

What passes between them is defined in `messages` (the shapes) and `frames` (the bytes).
Nothing here imports the web side, ZeroMQ, or pydantic: every module the zygote has
touched makes each fork of it slower.
"""
