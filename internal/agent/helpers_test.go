package agent

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-logr/logr"
	"github.com/go-logr/logr/funcr"
	"k8s.io/utils/clock"
	clocktesting "k8s.io/utils/clock/testing"
)

// logLines records what the agent logs, to count its attempts and to check
// that no secret is logged.
type logLines struct {
	mu    sync.Mutex
	lines []string
}

func (l *logLines) logger() logr.Logger {
	return funcr.New(func(prefix, args string) {
		l.mu.Lock()
		defer l.mu.Unlock()
		l.lines = append(l.lines, prefix+" "+args)
	}, funcr.Options{})
}

func (l *logLines) count(substr string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, line := range l.lines {
		if strings.Contains(line, substr) {
			n++
		}
	}
	return n
}

func (l *logLines) all() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Join(l.lines, "\n")
}

// testOptions are options for an agent of spiffe://cluster.local/ns/demo/sa/echo
// talking to ca, with an ECDSA key (fast) and a 1s..4s backoff.
func testOptions(t *testing.T, ca *testCA, clk clock.Clock, logs *logLines) Options {
	t.Helper()
	tokenFile := filepath.Join(t.TempDir(), "istio-token")
	writeToken(t, tokenFile, "token-1")
	return Options{
		TrustDomain: "cluster.local", Namespace: "demo", ServiceAccount: "echo",
		KeyAlgorithm: ECDSAP256,
		CAAddress:    ca.addr, CARootFile: ca.rootFile, CAServerName: "ca.test",
		TokenFile: tokenFile, ClusterID: "Kubernetes", CertTTL: 24 * time.Hour,
		OutputDir: filepath.Join(t.TempDir(), "certs"),
		Backoff:   Backoff{Initial: time.Second, Max: 4 * time.Second},
		Clock:     clk, Logger: logs.logger(),
	}
}

func writeToken(t *testing.T, path, token string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(token+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
}

// startAgent runs an agent without jitter until the test ends.
func startAgent(t *testing.T, opts Options) {
	t.Helper()
	a, err := newAgent(opts)
	if err != nil {
		t.Fatal(err)
	}
	a.jitter = func(d time.Duration) time.Duration { return d }
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("agent run: %v", err)
		}
	})
}

// waitUntil polls cond for up to 10 seconds of real time.
func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !cond(); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

// waitAsleep waits until the agent waits on the fake clock, i.e. it has
// finished its attempt.
func waitAsleep(t *testing.T, clk *clocktesting.FakeClock) {
	t.Helper()
	waitUntil(t, "the agent to wait for its next renewal", clk.HasWaiters)
}

func readFile(t *testing.T, path string) []byte {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// readLeaf returns the first certificate of the chain file in dir.
func readLeaf(t *testing.T, dir string) *x509.Certificate {
	t.Helper()
	block, _ := pem.Decode(readFile(t, filepath.Join(dir, CertChainFile)))
	if block == nil {
		t.Fatalf("%s holds no PEM", CertChainFile)
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return cert
}

// tlsKeyPair loads the chain and key files in dir as crypto/tls does, which
// fails unless the key is the leaf's.
func tlsKeyPair(dir string) (tls.Certificate, error) {
	return tls.LoadX509KeyPair(filepath.Join(dir, CertChainFile), filepath.Join(dir, KeyFile))
}
