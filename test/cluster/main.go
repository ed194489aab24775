// Command crdgate-cluster runs a real, single-process Kubernetes control plane for crdgate's
// local development and integration tests: embedded etcd plus kube-apiserver (RBAC, static
// tokens, service-account keys, CRDs), and a child kube-controller-manager running the namespace
// and garbage-collector controllers so that namespace deletion and cascading deletes behave as in
// a real cluster.
//
// The same binary is also kubectl (when invoked as "kubectl" or as "crdgate-cluster kubectl ...")
// and kube-controller-manager ("crdgate-cluster controller-manager ..."), so one link produces all
// three tools from one module set.
package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

func main() {
	name := strings.TrimSuffix(filepath.Base(os.Args[0]), ".exe")
	if name == "kubectl" {
		os.Exit(runKubectl(os.Args[1:]))
	}
	if len(os.Args) > 1 {
		switch os.Args[1] {
		case "kubectl":
			os.Exit(runKubectl(os.Args[2:]))
		case "controller-manager":
			os.Exit(runControllerManager(os.Args[2:]))
		case "version", "--version":
			fmt.Println(versionString())
			os.Exit(0)
		}
	}
	os.Exit(runControlPlane(os.Args[1:]))
}
