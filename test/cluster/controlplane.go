package main

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"go.etcd.io/etcd/server/v3/embed"
	"k8s.io/component-base/cli"
	"k8s.io/kubernetes/cmd/kube-apiserver/app"
)

type options struct {
	dataDir           string
	port              int
	kubeconfig        string
	logFile           string
	exitOnStdinClose  bool
	controllerManager bool
	readyTimeout      time.Duration
	extraAPIServer    []string
}

// stderr is the launcher's own error stream. Component logs may be redirected away from fd 2,
// but the launcher's one-line messages always reach the user.
var stderr io.Writer = os.Stderr

func parseOptions(args []string) (*options, error) {
	fs := flag.NewFlagSet("crdgate-cluster", flag.ContinueOnError)
	o := &options{}
	fs.StringVar(&o.dataDir, "data-dir", "", "state directory (etcd data, certificates, tokens); a temporary one, removed at exit, when empty")
	fs.IntVar(&o.port, "port", 0, "kube-apiserver secure port on 127.0.0.1 (0 picks a free one)")
	fs.StringVar(&o.kubeconfig, "kubeconfig", "", "where to write the admin kubeconfig (default <data-dir>/kubeconfig)")
	fs.StringVar(&o.logFile, "log-file", "", "write component logs here instead of stderr")
	fs.BoolVar(&o.exitOnStdinClose, "exit-on-stdin-close", false, "shut down when standard input closes (the parent died)")
	fs.BoolVar(&o.controllerManager, "controller-manager", true, "run kube-controller-manager's namespace and garbage-collector controllers")
	fs.DurationVar(&o.readyTimeout, "ready-timeout", 3*time.Minute, "how long to wait for /readyz")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: crdgate-cluster [flags] [-- extra kube-apiserver flags]\n       crdgate-cluster kubectl ...\n\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	o.extraAPIServer = fs.Args()
	if o.port < 0 || o.port > 65535 {
		return nil, fmt.Errorf("--port %d is not a TCP port", o.port)
	}
	return o, nil
}

// clusterInfo is written next to the kubeconfig so tests can find the static test users.
type clusterInfo struct {
	Server     string     `json:"server"`
	CAFile     string     `json:"caFile"`
	Kubeconfig string     `json:"kubeconfig"`
	AdminToken string     `json:"adminToken"`
	Users      []testUser `json:"users"`
	Version    string     `json:"version"`
	PID        int        `json:"pid"`
}

func runControlPlane(args []string) int {
	o, err := parseOptions(args)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		fmt.Fprintf(stderr, "crdgate-cluster: %v\n", err)
		return 2
	}
	code, err := run(o)
	if err != nil {
		fmt.Fprintf(stderr, "crdgate-cluster: %v\n", err)
		if code == 0 {
			code = 1
		}
	}
	return code
}

func run(o *options) (int, error) {
	var cleanups []func()
	defer func() {
		for i := len(cleanups) - 1; i >= 0; i-- {
			cleanups[i]()
		}
	}()

	if o.dataDir == "" {
		dir, err := os.MkdirTemp("", "crdgate-cluster-")
		if err != nil {
			return 1, err
		}
		o.dataDir = dir
		cleanups = append(cleanups, func() { os.RemoveAll(dir) })
	}
	dataDir, err := filepath.Abs(o.dataDir)
	if err != nil {
		return 1, err
	}
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return 1, fmt.Errorf("cannot create data dir %s: %w", dataDir, err)
	}
	if o.kubeconfig == "" {
		o.kubeconfig = filepath.Join(dataDir, "kubeconfig")
	}
	// Scratch files that must not outlive this run (kube-apiserver's --cert-dir) go in a temp dir.
	scratch, err := os.MkdirTemp("", "crdgate-cluster-run-")
	if err != nil {
		return 1, err
	}
	cleanups = append(cleanups, func() { os.RemoveAll(scratch) })

	if o.logFile != "" {
		restore, err := redirectStderr(o.logFile)
		if err != nil {
			return 1, fmt.Errorf("cannot open log file %s: %w", o.logFile, err)
		}
		cleanups = append(cleanups, restore)
	}

	port := o.port
	if port == 0 {
		if port, err = freePort(); err != nil {
			return 1, err
		}
	} else if err := checkPortFree(port); err != nil {
		return 2, fmt.Errorf("port %d on 127.0.0.1 is in use; stop what uses it or choose another --port", port)
	}

	keys, err := ensurePKI(filepath.Join(dataDir, "pki"))
	if err != nil {
		return 1, err
	}

	etcd, etcdURL, err := startEtcd(filepath.Join(dataDir, "etcd"))
	if err != nil {
		return 1, fmt.Errorf("starting embedded etcd: %w", err)
	}
	cleanups = append(cleanups, func() { etcd.Close() })

	server := fmt.Sprintf("https://127.0.0.1:%d", port)
	if err := writeKubeconfig(o.kubeconfig, server, keys.caPEM, keys.adminToken); err != nil {
		return 1, fmt.Errorf("writing kubeconfig: %w", err)
	}
	info := clusterInfo{Server: server, CAFile: keys.caCert, Kubeconfig: o.kubeconfig,
		AdminToken: keys.adminToken, Users: keys.users, Version: versionString(), PID: os.Getpid()}
	infoPath := filepath.Join(filepath.Dir(o.kubeconfig), "cluster.json")
	if err := writeJSON(infoPath, info); err != nil {
		return 1, err
	}

	if o.exitOnStdinClose {
		go exitOnEOF(os.Stdin)
	}

	// Forward termination to the controller-manager child as soon as it arrives; kube-apiserver
	// handles the same signal through its own handler.
	stopping := make(chan os.Signal, 2)
	signal.Notify(stopping, syscall.SIGTERM, syscall.SIGINT)

	apiArgs := []string{
		"--etcd-servers=" + etcdURL,
		"--bind-address=127.0.0.1",
		"--advertise-address=127.0.0.1",
		"--secure-port=" + strconv.Itoa(port),
		"--cert-dir=" + scratch,
		"--tls-cert-file=" + keys.serverCert,
		"--tls-private-key-file=" + keys.serverKey,
		"--client-ca-file=" + keys.caCert,
		"--authorization-mode=RBAC",
		"--token-auth-file=" + keys.tokenFile,
		"--service-account-issuer=https://kubernetes.default.svc.cluster.local",
		"--service-account-key-file=" + keys.saPub,
		"--service-account-signing-key-file=" + keys.saKey,
		"--service-cluster-ip-range=10.0.0.0/24",
		"--endpoint-reconciler-type=none",
		"--disable-admission-plugins=ServiceAccount",
		"--watch-cache=true",
		"--profiling=false",
		// Stop in seconds even with watches open: without it the HTTP server waits up to the
		// request timeout (60 s) for streaming watches that never go idle.
		"--shutdown-send-retry-after=true",
	}
	apiArgs = append(apiArgs, o.extraAPIServer...)

	apiDone := make(chan int, 1)
	go func() {
		cmd := app.NewAPIServerCommand()
		cmd.SetArgs(apiArgs)
		apiDone <- cli.Run(cmd)
	}()

	client := httpsClient(keys.caPEM)
	readyCtx, cancelReady := context.WithTimeout(context.Background(), o.readyTimeout)
	readyErr := waitReady(readyCtx, client, server, keys.adminToken, apiDone)
	cancelReady()
	if readyErr != nil {
		if errors.Is(readyErr, errAPIServerExited) {
			return 1, fmt.Errorf("kube-apiserver exited before it was ready%s", logHint(o.logFile))
		}
		syscall.Kill(os.Getpid(), syscall.SIGTERM)
		<-apiDone
		return 1, fmt.Errorf("kube-apiserver was not ready within %s: %v%s", o.readyTimeout, readyErr, logHint(o.logFile))
	}

	var kcm *child
	if o.controllerManager {
		kcm, err = startControllerManager(o.kubeconfig, o.logFile)
		if err != nil {
			fmt.Fprintf(stderr, "crdgate-cluster: kube-controller-manager did not start: %v\n", err)
		}
	}

	fmt.Printf("crdgate-cluster: kube-apiserver %s ready at %s (kubeconfig %s)\n", versionFromInfo(), server, o.kubeconfig)

	var code int
	select {
	case code = <-apiDone:
	case <-stopping:
		kcm.stop(10 * time.Second)
		code = <-apiDone
	}
	kcm.stop(10 * time.Second)
	signal.Stop(stopping)
	if code != 0 {
		return code, fmt.Errorf("kube-apiserver exited with code %d%s", code, logHint(o.logFile))
	}
	return 0, nil
}

var errAPIServerExited = errors.New("kube-apiserver exited")

func waitReady(ctx context.Context, client *http.Client, server, token string, apiDone chan int) error {
	var last error
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, server+"/readyz", nil)
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := client.Do(req)
		if err == nil {
			body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			last = fmt.Errorf("/readyz answered %d: %s", resp.StatusCode, lastLine(string(body)))
		} else {
			last = err
		}
		select {
		case code := <-apiDone:
			apiDone <- code
			return errAPIServerExited
		case <-ctx.Done():
			return last
		case <-time.After(200 * time.Millisecond):
		}
	}
}

func startEtcd(dir string) (*embed.Etcd, string, error) {
	clientPort, err := freePort()
	if err != nil {
		return nil, "", err
	}
	peerPort, err := freePort()
	if err != nil {
		return nil, "", err
	}
	cfg := embed.NewConfig()
	cfg.Name = "crdgate"
	cfg.Dir = dir
	cfg.LogLevel = "error"
	clientURL := url.URL{Scheme: "http", Host: fmt.Sprintf("127.0.0.1:%d", clientPort)}
	peerURL := url.URL{Scheme: "http", Host: fmt.Sprintf("127.0.0.1:%d", peerPort)}
	cfg.ListenClientUrls = []url.URL{clientURL}
	cfg.AdvertiseClientUrls = []url.URL{clientURL}
	cfg.ListenPeerUrls = []url.URL{peerURL}
	cfg.AdvertisePeerUrls = []url.URL{peerURL}
	cfg.InitialCluster = cfg.InitialClusterFromName(cfg.Name)
	// A single local member: fsync on every write only slows tests down.
	cfg.UnsafeNoFsync = true
	e, err := embed.StartEtcd(cfg)
	if err != nil {
		return nil, "", err
	}
	select {
	case <-e.Server.ReadyNotify():
	case err := <-e.Err():
		e.Close()
		return nil, "", err
	case <-time.After(60 * time.Second):
		e.Close()
		return nil, "", errors.New("etcd was not ready within 60s")
	}
	return e, clientURL.String(), nil
}

type child struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser
	done  chan struct{}
	once  sync.Once
}

func startControllerManager(kubeconfig, logFile string) (*child, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(self, "controller-manager", "--exit-on-stdin-close",
		"--kubeconfig="+kubeconfig,
		"--controllers=namespace-controller,garbage-collector-controller,serviceaccount-controller",
		"--leader-elect=false",
		"--secure-port=0",
		"--use-service-account-credentials=false",
		"--concurrent-gc-syncs=5",
	)
	cmd.Stdout = os.Stderr
	cmd.Stderr = os.Stderr
	// The child also dies with us if we are killed without a chance to stop it.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	c := &child{cmd: cmd, stdin: stdin, done: make(chan struct{})}
	go func() {
		cmd.Wait()
		close(c.done)
	}()
	return c, nil
}

func (c *child) stop(grace time.Duration) {
	if c == nil {
		return
	}
	c.once.Do(func() {
		c.cmd.Process.Signal(syscall.SIGTERM)
		c.stdin.Close()
		select {
		case <-c.done:
		case <-time.After(grace):
			c.cmd.Process.Kill()
			<-c.done
		}
	})
}

// exitWhenStdinCloses handles --exit-on-stdin-close for the child commands.
func exitWhenStdinCloses(args []string) {
	for _, a := range args {
		if a == "--exit-on-stdin-close" {
			go exitOnEOF(os.Stdin)
			return
		}
	}
}

func filterOwnFlags(args []string) []string {
	out := make([]string, 0, len(args))
	for _, a := range args {
		if a != "--exit-on-stdin-close" {
			out = append(out, a)
		}
	}
	return out
}

// exitOnEOF turns a closed stdin (the parent died or let go of us) into the same SIGTERM a user
// would send, so shutdown runs through the components' own graceful path.
func exitOnEOF(r io.Reader) {
	io.Copy(io.Discard, r)
	syscall.Kill(os.Getpid(), syscall.SIGTERM)
}

func writeKubeconfig(path, server string, ca []byte, token string) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	cfg := fmt.Sprintf(`apiVersion: v1
kind: Config
clusters:
- name: crdgate-local
  cluster:
    server: %s
    certificate-authority-data: %s
users:
- name: crdgate-local-admin
  user:
    token: %s
contexts:
- name: crdgate-local
  context:
    cluster: crdgate-local
    user: crdgate-local-admin
    namespace: default
current-context: crdgate-local
`, server, base64.StdEncoding.EncodeToString(ca), token)
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(cfg), 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

func writeJSON(path string, v any) error {
	data, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

func httpsClient(ca []byte) *http.Client {
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(ca)
	return &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func checkPortFree(port int) error {
	l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port))
	if err != nil {
		return err
	}
	return l.Close()
}

// redirectStderr points fd 2 (where klog and zap write) at a file, keeping the original stream
// for the launcher's own messages.
func redirectStderr(path string) (func(), error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	saved, err := syscall.Dup(2)
	if err != nil {
		f.Close()
		return nil, err
	}
	if err := syscall.Dup3(int(f.Fd()), 2, 0); err != nil {
		f.Close()
		return nil, err
	}
	stderr = os.NewFile(uintptr(saved), "stderr")
	return func() {
		syscall.Dup3(saved, 2, 0)
		f.Close()
	}, nil
}

func logHint(logFile string) string {
	if logFile == "" {
		return ""
	}
	tail := tailFile(logFile, 8)
	if tail == "" {
		return "; see " + logFile
	}
	return "; last lines of " + logFile + ":\n" + tail
}

func tailFile(path string, n int) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	var lines []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		lines = append(lines, sc.Text())
		if len(lines) > n {
			lines = lines[1:]
		}
	}
	return strings.Join(lines, "\n")
}

func lastLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.LastIndex(s, "\n"); i >= 0 {
		return s[i+1:]
	}
	return s
}

func versionFromInfo() string {
	return strings.Fields(versionString())[1]
}
