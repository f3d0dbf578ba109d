"""Code that runs inside the zygote and the sandboxes.

Nothing here imports the web side, ZeroMQ, or pydantic: the zygote forks a sandbox per job
and every module it has touched makes each fork slower.
"""
