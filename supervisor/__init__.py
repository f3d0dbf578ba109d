"""The supervisor daemon: owns the session files and the pool of sandboxes.

Importing this package must stay cheap and thread-free: the zygote process imports
`supervisor.sandbox` and must not pull in ZeroMQ or pydantic.
"""
