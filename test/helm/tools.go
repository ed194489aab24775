//go:build tools

// Package tools pins helm, which the test run builds from Go modules (go build
// helm.sh/helm/v4/cmd/helm) to lint, render and check the chart in deploy/helm.
package tools

import _ "helm.sh/helm/v4/cmd/helm"
