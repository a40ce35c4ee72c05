"""The child side of the tunnel (``lattice-agent``): one outbound mTLS gRPC stream to the parent
cell, kept alive forever; serves the requests tunnelled down to this cluster (``request_handler``)
and, next to a cell, forwards the rest further down. ``credentials`` finds the parent config and
the agent's identity (a CSR to the parent's bootstrap webhook the first time); ``runner`` builds
an agent for a binary. Imports ``lattice_tunnel`` and ``lattice_proto``; never the cell.
"""
