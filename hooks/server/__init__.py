"""The hook server: the only Starlette/uvicorn code of the hooks. ``app`` answers Metacontroller's
hook requests by running the pure controllers (``hooks.controllers``); ``metrics`` counts them;
``main`` is ``lattice-hooks`` (uvicorn). Keeps no state between requests beyond metrics and memos.
"""
