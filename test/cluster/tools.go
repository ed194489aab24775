package main

import (
	"os"

	"k8s.io/component-base/cli"
	"k8s.io/component-base/version"
	kubectlcmd "k8s.io/kubectl/pkg/cmd"
	kubectlutil "k8s.io/kubectl/pkg/cmd/util"
	cmapp "k8s.io/kubernetes/cmd/kube-controller-manager/app"
)

func versionString() string {
	v := version.Get()
	return "crdgate-cluster " + v.GitVersion + " (kube-apiserver, kube-controller-manager, kubectl)"
}

// runKubectl is upstream kubectl's main, unchanged.
func runKubectl(args []string) int {
	os.Args = append([]string{"kubectl"}, args...)
	command := kubectlcmd.NewDefaultKubectlCommand()
	if err := cli.RunNoErrOutput(command); err != nil {
		kubectlutil.CheckErr(err)
		return 1
	}
	return 0
}

// runControllerManager is upstream kube-controller-manager's main. It runs in a child process of
// the control plane because the component installs its own signal handler, and a process may
// install only one.
func runControllerManager(args []string) int {
	exitWhenStdinCloses(args)
	command := cmapp.NewControllerManagerCommand()
	command.SetArgs(filterOwnFlags(args))
	return cli.Run(command)
}
