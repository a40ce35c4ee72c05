"""The composition root of a Lattice cluster: one process running its cell and, when the cluster
has a parent, its agent towards that parent (``lattice-operator``). The agent forwards requests
down through the cell and advertises the cell's whole subtree upward.

The only package that imports both ``lattice_cell`` and ``lattice_agent``; they meet here through
``lattice_tunnel``'s ``Forwarder`` and ``SubtreeSource``.
"""
