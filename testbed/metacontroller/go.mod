// Wrapper module: selects the Metacontroller binary used by the test control plane.
// Metacontroller's go.mod declares the bare module path `metacontroller`, so it can only be
// required through a replace pointing at the repository path at a pseudo-version (v0.0.0 base)
// of the commit tagged v4.17.2.
module lattice/testbed/metacontroller

go 1.26.4

require metacontroller v0.0.0-00010101000000-000000000000

replace metacontroller => github.com/metacontroller/metacontroller v0.0.0-20260813213314-76b818bdc67b
