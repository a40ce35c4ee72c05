"""Metacontroller hooks: pure compilers from Lattice objects to Kubernetes objects, the controllers
that wire them to Metacontroller, and the thin Starlette app that serves them.

Compilers (``hooks.service``, ``hooks.mesh``, ``hooks.secrets``, ``hooks.cluster``) sit on the
shared ``context``, ``names``, ``labels`` and ``durations``; ``hooks.controllers`` runs them as
hook functions; ``hooks.simulator`` runs those offline. All of it is pure: no I/O, no clock, no
randomness, no starlette, httpx, kr8s or grpc. Only ``hooks.server`` does I/O. Imports ``crds``
and ``lattice_cedar`` of Lattice.
"""
