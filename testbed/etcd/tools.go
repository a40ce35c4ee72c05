//go:build tools

// Package tools only selects the etcd binary built from go.etcd.io/etcd/server/v3; it holds no code.
package tools

import (
	_ "go.etcd.io/etcd/server/v3"
)
