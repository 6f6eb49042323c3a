//go:build tools

// Package tools pins JobSet's controller v0.10.1 as a dependency of this wrapper module.
package tools

import _ "sigs.k8s.io/jobset"
