//go:build tools

// Package tools only selects the kwok binary; it holds no code.
package tools

import (
	_ "sigs.k8s.io/kwok/cmd/kwok"
)
