"""The tunnel runtime the agent and the cell share, and nothing else uses: PKI (``pki``), the
request/response types every hop speaks (``kube_request``), the parent config (``parent_config``)
and subtree (``subtree``) both sides agree on, stream batching (``stream_batch``), the last hop to
a Kubernetes API server (``kube_client``, ``http1_client``, ``kube_exec``), embedded uvicorn
servers (``embedded_uvicorn``), health endpoints (``health``) and the binaries' shared start-up
(``entrypoints``).

Imports ``crds`` and ``lattice_proto`` at most; never the agent, the cell or the hooks.
"""
