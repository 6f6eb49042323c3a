//go:build tools

// Package tools pins Kubeflow Trainer v2.1.0's controller manager as a dependency of this wrapper module.
package tools

import _ "github.com/kubeflow/trainer/v2/cmd/trainer-controller-manager"
