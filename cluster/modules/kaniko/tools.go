//go:build tools

// Package tools pins the Kaniko executor as a dependency of this wrapper module.
package tools

import _ "github.com/GoogleContainerTools/kaniko/cmd/executor"
