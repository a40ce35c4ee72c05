//go:build tools

// Package tools only selects the metacontroller binary; it holds no code.
package tools

import (
	_ "metacontroller/pkg/cmd/metacontroller"
)
