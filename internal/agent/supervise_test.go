package agent

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// freePort is a TCP port nothing listens on right now.
func freePort(t *testing.T) int {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = lis.Close() }()
	return lis.Addr().(*net.TCPAddr).Port
}

// sidecarAgent is `loom agent --proxy envoy` of pod echo-1 (ServiceAccount
// echo) against the local control plane, with the stand-in Envoy recording
// into dir.
type sidecarAgent struct {
	opts Options
	dir  string // the stand-in Envoy's records
	done chan error
	stop context.CancelFunc
}

func startSidecarAgent(t *testing.T, cp *controlPlane, drain time.Duration) *sidecarAgent {
	t.Helper()
	sockets := shortTempDir(t)
	s := &sidecarAgent{dir: t.TempDir(), done: make(chan error, 1)}
	t.Setenv(fakeEnvoyEnv, s.dir)
	binary, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	s.opts = Options{
		TrustDomain: "cluster.local", Namespace: planeNamespace, ServiceAccount: "echo", KeyAlgorithm: ECDSAP256,
		CAAddress: cp.secureAddr, CARootFile: cp.rootFile, CAServerName: planeServerName,
		TokenFile: cp.tokenFile(t, "echo"), ClusterID: "Kubernetes", CertTTL: time.Hour,
		SDSSocket: filepath.Join(sockets, "sds"),
		Proxy:     ProxyEnvoy,
		Bootstrap: BootstrapOptions{PodName: "echo-1", InstanceIPs: []string{"127.0.0.1"}, Labels: map[string]string{"app": "echo"}},
		Envoy: EnvoyOptions{
			BootstrapPath:  filepath.Join(t.TempDir(), "envoy", "bootstrap.json"),
			Binary:         binary,
			XDSProxySocket: filepath.Join(sockets, "XDS"),
			StatusPort:     freePort(t),
			AdminPort:      freePort(t),
			DrainDuration:  drain,
		},
		Logger: (&logLines{}).logger(),
	}
	ctx, cancel := context.WithCancel(context.Background())
	s.stop = cancel
	go func() { s.done <- Run(ctx, s.opts) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-s.done:
			if err != nil {
				t.Logf("agent stopped: %v", err)
			}
		case <-time.After(30 * time.Second):
			t.Error("the agent did not stop")
		}
	})
	return s
}

func (s *sidecarAgent) recorded(name string) (string, bool) {
	data, err := os.ReadFile(filepath.Join(s.dir, name))
	return string(data), err == nil
}

// ready GETs the agent's /healthz/ready and returns the status and body.
func (s *sidecarAgent) ready() (int, string) {
	resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/healthz/ready", s.opts.Envoy.StatusPort))
	if err != nil {
		return 0, err.Error()
	}
	defer func() { _ = resp.Body.Close() }()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

func (s *sidecarAgent) failOnEnvoyFailure(t *testing.T) {
	t.Helper()
	if msg, ok := s.recorded(fakeEnvoyFailure); ok {
		t.Fatalf("stand-in Envoy failed: %s", msg)
	}
}

// TestSidecarAgentRunsEnvoy: the whole sidecar against Loom's real
// discovery server and mesh CA. The agent gets a certificate, writes the
// bootstrap, starts Envoy with Istio's flags; Envoy gets its certificate
// over SDS and its config through the xDS proxy; /healthz/ready turns 200
// only once Envoy ACKed its listeners. On SIGTERM the agent drains Envoy's
// inbound listeners through the admin API, waits the drain duration, sends
// Envoy SIGTERM and returns Envoy's clean exit.
func TestSidecarAgentRunsEnvoy(t *testing.T) {
	cp := sharedControlPlane(t)
	const drain = 1500 * time.Millisecond
	s := startSidecarAgent(t, cp, drain)

	waitUntil(t, "the stand-in Envoy's certificate over SDS", func() bool {
		s.failOnEnvoyFailure(t)
		_, ok := s.recorded(fakeEnvoySecret)
		return ok
	})
	if uri, _ := s.recorded(fakeEnvoySecret); uri != "spiffe://cluster.local/ns/demo/sa/echo" {
		t.Errorf("Envoy's certificate is for %s", uri)
	}
	argsJSON, _ := s.recorded(fakeEnvoyArgs)
	var args []string
	if err := json.Unmarshal([]byte(argsJSON), &args); err != nil {
		t.Fatal(err)
	}
	for _, want := range [][]string{{"-c", s.opts.Envoy.BootstrapPath}, {"--drain-time-s", "2"}, {"--parent-shutdown-time-s", "60"}, {"--disable-hot-restart"}} {
		i := slices.Index(args, want[0])
		if i < 0 || !slices.Equal(args[i:min(i+len(want), len(args))], want) {
			t.Errorf("Envoy args %q lack %q", args, want)
		}
	}
	parseEnvoyBootstrap(t, readFile(t, s.opts.Envoy.BootstrapPath))

	// Envoy runs (it fetched its certificate) but has not ACKed listeners.
	if code, body := s.ready(); code != http.StatusServiceUnavailable || !strings.Contains(body, "ACK") {
		t.Fatalf("/healthz/ready before the ACK: %d %q, want 503 naming the missing ACK", code, body)
	}
	if err := os.WriteFile(filepath.Join(s.dir, fakeEnvoyGoAck), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "/healthz/ready 200 after Envoy's ACK", func() bool {
		s.failOnEnvoyFailure(t)
		code, _ := s.ready()
		return code == http.StatusOK
	})
	if _, ok := s.recorded(fakeEnvoyLDSAcked); !ok {
		t.Fatal("ready without the stand-in Envoy having ACKed its listeners")
	}

	stopped := time.Now()
	s.stop()
	waitUntil(t, "/healthz/ready 503 while draining", func() bool {
		code, _ := s.ready()
		return code == http.StatusServiceUnavailable
	})
	select {
	case err := <-s.done:
		if err != nil {
			t.Fatalf("agent after SIGTERM: %v", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("the agent did not stop after SIGTERM")
	}
	s.done <- nil // for the cleanup
	drainRecord, ok := s.recorded(fakeEnvoyDrain)
	if !ok {
		t.Fatal("the agent never POSTed /drain_listeners to Envoy's admin port")
	}
	query, drainedAt, _ := strings.Cut(drainRecord, "\n")
	if query != "graceful&inboundonly" {
		t.Errorf("drain_listeners query %q, want graceful&inboundonly", query)
	}
	termRecord, ok := s.recorded(fakeEnvoySIGTERM)
	if !ok {
		t.Fatal("Envoy never got SIGTERM")
	}
	drainNanos, _ := strconv.ParseInt(drainedAt, 10, 64)
	termNanos, _ := strconv.ParseInt(termRecord, 10, 64)
	if gap := time.Duration(termNanos - drainNanos); gap < drain {
		t.Errorf("SIGTERM came %s after the drain started, want at least the drain duration %s", gap, drain)
	}
	if drainNanos < stopped.UnixNano() {
		t.Error("drain started before the agent was stopped")
	}
	if _, err := os.Stat(s.opts.Envoy.XDSProxySocket); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("xDS proxy socket left behind: %v", err)
	}
}

// TestSidecarAgentExitsWithEnvoy: when Envoy exits on its own the agent
// exits with Envoy's status, for the kubelet to restart the container.
func TestSidecarAgentExitsWithEnvoy(t *testing.T) {
	cp := sharedControlPlane(t)
	t.Setenv(fakeEnvoyExitEnv, "7")
	s := startSidecarAgent(t, cp, time.Second)
	select {
	case err := <-s.done:
		var exit *ProxyExitError
		if !errors.As(err, &exit) || exit.Code != 7 {
			t.Fatalf("agent returned %v, want Envoy's exit status 7", err)
		}
		s.done <- nil
	case <-time.After(60 * time.Second):
		t.Fatal("the agent did not exit with Envoy")
	}
	if _, ok := s.recorded(fakeEnvoyArgs); !ok {
		t.Fatal("the stand-in Envoy never ran")
	}
}
