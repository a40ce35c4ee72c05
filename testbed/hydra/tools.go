//go:build tools

// Package tools only selects the hydra binary; it holds no code.
package tools

import (
	_ "github.com/ory/hydra/v2"
)
