"""Metacontroller hooks: pure compilers from Lattice objects to Kubernetes objects, and the
thin Starlette app that serves them.

The compilers (``hooks.service``, ``hooks.secrets``, ...) are pure functions: no I/O, no clock,
no randomness; they never import starlette, httpx, kr8s or grpc. Only ``hooks.server.app`` and
``hooks.server.main`` do I/O.
"""
