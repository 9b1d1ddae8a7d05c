package xds

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// discoveryProcess is a running `loom discovery`. It keeps its ports across
// restarts, as a restarted control-plane pod keeps its Service.
type discoveryProcess struct {
	// secureAddr serves the mesh CA's CSR API over TLS (Istio's 15012).
	xdsAddr, monitoringAddr, secureAddr string
	// webhookAddr serves the sidecar injector (Istio's 15017).
	webhookAddr string
	revision    string
	logPath     string
	cmd         *exec.Cmd
	// env and args are added to the process's environment and flags.
	env, args []string
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer func() { _ = l.Close() }()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func startDiscovery() (*discoveryProcess, error) { return startDiscoveryOfRevision("") }

// startDiscoveryOfRevision starts `loom discovery` of a control-plane revision ("": the
// default one); another revision is not the default injector.
func startDiscoveryOfRevision(revision string) (*discoveryProcess, error) {
	return startDiscoveryWith(revision, nil)
}

// startDiscoveryWith starts `loom discovery` of revision with env added to its environment
// and args to its flags.
func startDiscoveryWith(revision string, env []string, args ...string) (*discoveryProcess, error) {
	xdsPort, err := freePort()
	if err != nil {
		return nil, err
	}
	monPort, err := freePort()
	if err != nil {
		return nil, err
	}
	securePort, err := freePort()
	if err != nil {
		return nil, err
	}
	webhookPort, err := freePort()
	if err != nil {
		return nil, err
	}
	p := &discoveryProcess{
		webhookAddr:    "127.0.0.1:" + strconv.Itoa(webhookPort),
		secureAddr:     "127.0.0.1:" + strconv.Itoa(securePort),
		xdsAddr:        "127.0.0.1:" + strconv.Itoa(xdsPort),
		monitoringAddr: "127.0.0.1:" + strconv.Itoa(monPort),
		logPath:        filepath.Join(cluster.Dir, "discovery"+revision+".log"),
		revision:       revision,
		env:            env,
		args:           args,
	}
	return p, p.start()
}

// xdsPort is the xDS port; it is bound on every address so that xDS servers in the test's
// network namespaces reach it through their gateway address.
func (p *discoveryProcess) xdsPort() string {
	_, port, _ := net.SplitHostPort(p.xdsAddr)
	return port
}

func (p *discoveryProcess) start() error {
	logFile, err := os.OpenFile(p.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	defer func() { _ = logFile.Close() }()
	p.cmd = exec.Command(loomBin, "discovery", "--kubeconfig", cluster.KubeconfigPath,
		"--xds-address", "0.0.0.0:"+p.xdsPort(), "--monitoring-address", p.monitoringAddr, "--root-namespace", "istio-system",
		"--secure-address", p.secureAddr, "--ca-dns-names", caServerName+",localhost", "--workload-cert-ttl", "1m",
		"--webhook-address", p.webhookAddr, "--inject-discovery-host", caServerName,
		"--inject-agent-image", injectAgentImage, "--inject-proxy-image", injectProxyImage)
	if p.revision != "" {
		p.cmd.Args = append(p.cmd.Args, "--revision", p.revision, "--inject-default-revision=false")
	}
	p.cmd.Args = append(p.cmd.Args, p.args...)
	if len(p.env) > 0 {
		p.cmd.Env = append(os.Environ(), p.env...)
	}
	p.cmd.Stdout, p.cmd.Stderr = logFile, logFile
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := p.cmd.Start(); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	err = wait.PollUntilContextCancel(ctx, 100*time.Millisecond, true, func(context.Context) (bool, error) {
		resp, err := http.Get("http://" + p.monitoringAddr + "/ready")
		if err != nil {
			return false, nil
		}
		_ = resp.Body.Close()
		return resp.StatusCode == http.StatusOK, nil
	})
	if err != nil {
		out, _ := os.ReadFile(p.logPath)
		return fmt.Errorf("loom discovery not ready: %w\n%s", err, out)
	}
	return nil
}

// kill stops the process abruptly, as a crashed or evicted pod.
func (p *discoveryProcess) kill() {
	if p.cmd != nil && p.cmd.Process != nil {
		_ = p.cmd.Process.Kill()
		_ = p.cmd.Wait()
		p.cmd = nil
	}
}

func (p *discoveryProcess) stop() {
	if p.cmd != nil && p.cmd.Process != nil {
		_ = p.cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() { _ = p.cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = p.cmd.Process.Kill()
			<-done
		}
		p.cmd = nil
	}
}

func waitEstablished(ctx context.Context, name string) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	return wait.PollUntilContextCancel(ctx, 50*time.Millisecond, true, func(ctx context.Context) (bool, error) {
		var crd apiextensionsv1.CustomResourceDefinition
		if err := k8sClient.Get(ctx, client.ObjectKey{Name: name}, &crd); err != nil {
			return false, nil
		}
		for _, c := range crd.Status.Conditions {
			if c.Type == apiextensionsv1.Established && c.Status == apiextensionsv1.ConditionTrue {
				return true, nil
			}
		}
		return false, nil
	})
}
