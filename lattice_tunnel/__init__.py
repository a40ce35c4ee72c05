"""The tunnel runtime the agent and the cell share, and nothing else uses: PKI (``pki``), the
request/response types every hop speaks (``kube_request``), the parent config (``parent_config``)
and subtree (``subtree``) both sides agree on, stream batching (``stream_batch``), the last hop to
a Kubernetes API server (``kube_target``, ``http1_client``, ``kube_exec``), the cell's and agent's
own state in their cluster (``kube_api``, on kr8s), embedded uvicorn
servers (``embedded_uvicorn``), health endpoints (``health``) and the binaries' shared start-up
(``entrypoints``).

Imports ``crds`` and ``lattice_proto`` at most; never the agent, the cell or the hooks.
"""
