"""Generated gRPC stubs for the agent <-> cell protocol (proto/lattice_proto/agent.proto).

Do not edit the *_pb2* modules by hand: run `python proto/generate.py`.
"""
