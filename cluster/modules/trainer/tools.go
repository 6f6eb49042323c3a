//go:build tools

// Package tools pins Kubeflow Trainer's controller manager and JobSet's controller as dependencies
// of this wrapper module.
package tools

import (
	_ "github.com/kubeflow/trainer/v2/cmd/trainer-controller-manager"
	_ "sigs.k8s.io/jobset"
)
