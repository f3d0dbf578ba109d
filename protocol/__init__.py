"""The contract shared by the web tier and the supervisor.

Everything both processes must agree on lives here and only here: the wire envelope and
its version, the request and reply models, the closed set of error codes, and the
settings. This package imports neither `webapp` nor `supervisor`.
"""
