"""The ``lattice`` command (typer): kubectl-like flags, readable errors. A thin shell over the
pure parts: ``lattice render`` reads files and prints what ``hooks.simulator`` generates;
``lattice dev up`` runs ``lattice_dev``'s local control plane. Imports anything below it; nothing
imports it.
"""
