package main

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// controlPlane is one control-plane process under test and the address of its CA.
type controlPlane struct {
	name     string
	cmd      *exec.Cmd
	logPath  string
	caAddr   string // the CSR API over TLS (port 15012 in a cluster)
	readyURL string
	exited   chan struct{}
	startup  time.Duration
}

func freeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer func() { _ = l.Close() }()
	return l.Addr().String(), nil
}

func freeAddrs(n int) ([]string, error) {
	out := make([]string, n)
	for i := range out {
		a, err := freeAddr()
		if err != nil {
			return nil, err
		}
		out[i] = a
	}
	return out, nil
}

// loomPlane is `loom discovery` with its mesh CA on a free loopback port, serving a
// certificate for the name istiod's has too.
//
// The kubeconfig comes through KUBECONFIG, not --kubeconfig: loom then loads it as it
// loads the in-cluster config (controller-runtime's lookup, no client-side rate limit),
// whereas --kubeconfig leaves client-go's default of 5 requests/s (burst 10), which
// would cap the CA at 5 TokenReviews, so 5 certificates, a second.
func loomPlane(bin, kubeconfig, dir string, kubeconfigFlag bool) (*controlPlane, error) {
	a, err := freeAddrs(3)
	if err != nil {
		return nil, err
	}
	xds, mon, secure := a[0], a[1], a[2]
	args := []string{"discovery"}
	env := append(filteredEnv(), "KUBECONFIG="+kubeconfig)
	name := "loom"
	if kubeconfigFlag {
		args, env, name = append(args, "--kubeconfig", kubeconfig), filteredEnv(), peerLoomKubeconfigFlag
	}
	cmd := exec.Command(bin, append(args,
		"--xds-address", xds, "--monitoring-address", mon, "--root-namespace", rootNamespace,
		"--secure-address", secure, "--ca-dns-names", caServerName+",localhost",
		"--cluster-id", clusterID, "--workload-cert-ttl", "24h")...)
	cmd.Env = env
	return &controlPlane{name: name, cmd: cmd, caAddr: secure, readyURL: "http://" + mon + "/ready", logPath: filepath.Join(dir, name+".log")}, nil
}

// istiodEnv is how istiod runs out of cluster, as in test/bench/scale: no webhooks, no
// analysis. Its CA needs nothing more: ENABLE_CA_SERVER defaults to true, the
// self-signed root goes into the istio-ca-secret Secret of POD_NAMESPACE, JWT_POLICY
// defaults to third-party-jwt (TokenReview with audience istio-ca, TOKEN_AUDIENCES), and
// the ClusterID header must equal --clusterID.
var istiodEnv = []string{
	"POD_NAMESPACE=" + rootNamespace, "POD_NAME=istiod-local", "REVISION=default",
	"INJECT_ENABLED=false", "VALIDATION_WEBHOOK_CONFIG_NAME=", "INJECTION_WEBHOOK_CONFIG_NAME=",
	"PILOT_ENABLE_ANALYSIS=false", "PILOT_MAX_REQUESTS_PER_SECOND=1000000",
}

// istiodPlane is istiod with its defaults, or with its Kubernetes client's rate limit
// lifted (noQPSLimit), which is also the limit on its CA's TokenReviews.
func istiodPlane(bin, kubeconfig, dir string, noQPSLimit bool) (*controlPlane, error) {
	a, err := freeAddrs(5)
	if err != nil {
		return nil, err
	}
	grpcAddr, httpAddr, httpsAddr, secureGRPC, monitoring := a[0], a[1], a[2], a[3], a[4]
	name := peerIstiod
	var extra []string
	if noQPSLimit {
		name, extra = peerIstiodNoQPSLimit, []string{"--kubernetesApiQPS", "1000000", "--kubernetesApiBurst", "2000000"}
	}
	work := filepath.Join(dir, name+"-work")
	if err := os.MkdirAll(work, 0o755); err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, append([]string{"discovery",
		"--kubeconfig", kubeconfig,
		"--grpcAddr", grpcAddr, "--httpAddr", httpAddr, "--httpsAddr", httpsAddr,
		"--secureGRPCAddr", secureGRPC, "--monitoringAddr", monitoring,
		"--meshConfig", filepath.Join(work, "mesh"), "--networksConfig", filepath.Join(work, "meshNetworks"),
		"--domain", trustDomain, "--clusterID", clusterID,
	}, extra...)...)
	cmd.Dir = work
	cmd.Env = append(filteredEnv(), istiodEnv...)
	return &controlPlane{name: name, cmd: cmd, caAddr: secureGRPC, readyURL: "http://" + httpAddr + "/ready", logPath: filepath.Join(dir, name+".log")}, nil
}

// filteredEnv drops KUBECONFIG so that only --kubeconfig picks the cluster.
func filteredEnv() []string {
	var out []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "KUBECONFIG=") {
			out = append(out, kv)
		}
	}
	return out
}

// start runs the process with its output in logPath and waits until readyURL answers 200.
func (p *controlPlane) start(ctx context.Context, timeout time.Duration) error {
	logFile, err := os.OpenFile(p.logPath, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o644)
	if err != nil {
		return err
	}
	defer func() { _ = logFile.Close() }()
	p.cmd.Stdout, p.cmd.Stderr = logFile, logFile
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	started := time.Now()
	if err := p.cmd.Start(); err != nil {
		return fmt.Errorf("%s: %w", p.name, err)
	}
	p.exited = make(chan struct{})
	go func() { _ = p.cmd.Wait(); close(p.exited) }()
	deadline := time.Now().Add(timeout)
	hc := &http.Client{Timeout: 2 * time.Second}
	for {
		if resp, err := hc.Get(p.readyURL); err == nil {
			_ = resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				p.startup = time.Since(started)
				return nil
			}
		}
		select {
		case <-p.exited:
			return fmt.Errorf("%s exited before it was ready (%v); log %s:\n%s", p.name, p.cmd.ProcessState, p.logPath, tail(p.logPath, 30))
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s not ready after %s; log %s:\n%s", p.name, timeout, p.logPath, tail(p.logPath, 30))
		}
	}
}

func (p *controlPlane) pid() int { return p.cmd.Process.Pid }

// stop sends SIGTERM, then SIGKILL after grace.
func (p *controlPlane) stop(grace time.Duration) {
	if p.cmd == nil || p.cmd.Process == nil || p.exited == nil {
		return
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.exited:
	case <-time.After(grace):
		_ = p.cmd.Process.Kill()
		<-p.exited
	}
}

func tail(path string, lines int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	all := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(all) > lines {
		all = all[len(all)-lines:]
	}
	return strings.Join(all, "\n")
}
