"""The workload compiler: one LatticeService (with what it names) in, its children and status out.

``compile_service(ctx)`` (``compile``) checks the service (``checks``), provisions its resources
(``provisioning``: outputs and provisioned children), expands its templates (``templates``,
``expansion``) and builds the ServiceAccount, Deployment, Service,
HPA, claims and files (``workload``, ``containers``, ``volumes``, ``files``); the mesh part comes
from ``hooks.mesh`` and the secrets part from ``hooks.secrets``. Pure: no I/O, no clock.
"""
