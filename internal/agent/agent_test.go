package agent

import (
	"bytes"
	"context"
	"crypto/rsa"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"k8s.io/utils/clock"
	clocktesting "k8s.io/utils/clock/testing"
)

func TestAgentOnceWritesFirstCertificate(t *testing.T) {
	ca := newTestCA(t, time.Now)
	logs := &logLines{}
	opts := testOptions(t, ca, clock.RealClock{}, logs)
	opts.KeyAlgorithm = "" // Istio's default, RSA 2048
	opts.Once = true
	opts.ReadyFile = filepath.Join(t.TempDir(), "ready")
	if err := Run(context.Background(), opts); err != nil {
		t.Fatal(err)
	}

	for _, name := range []string{CertChainFile, KeyFile, RootCertFile} {
		info, err := os.Stat(filepath.Join(opts.OutputDir, name))
		if err != nil {
			t.Fatal(err)
		}
		if info.Mode().Perm() != 0o640 {
			t.Errorf("%s has mode %v, want 0640 (the owner and the pod's fsGroup)", name, info.Mode().Perm())
		}
	}
	if entries, _ := os.ReadDir(opts.OutputDir); len(entries) != 3 {
		t.Errorf("output dir holds %d entries, want the 3 files and no temporary file left", len(entries))
	}
	if got := string(readFile(t, filepath.Join(opts.OutputDir, RootCertFile))); got != ca.rootPEM {
		t.Errorf("%s is not the CA's root", RootCertFile)
	}
	leaf := readLeaf(t, opts.OutputDir)
	if len(leaf.URIs) != 1 || leaf.URIs[0].String() != "spiffe://cluster.local/ns/demo/sa/echo" {
		t.Errorf("leaf URI SANs = %v", leaf.URIs)
	}
	pair, err := tlsKeyPair(opts.OutputDir)
	if err != nil {
		t.Fatalf("%s and %s are not a key pair: %v", CertChainFile, KeyFile, err)
	}
	if key, ok := pair.PrivateKey.(*rsa.PrivateKey); !ok || key.N.BitLen() != 2048 {
		t.Errorf("workload key is %T, want RSA 2048", pair.PrivateKey)
	}
	if _, err := os.Stat(opts.ReadyFile); err != nil {
		t.Errorf("ready file: %v", err)
	}

	reqs := ca.recorded()
	if len(reqs) != 1 {
		t.Fatalf("CA got %d requests, want 1", len(reqs))
	}
	r := reqs[0]
	if r.token != "Bearer token-1" || r.clusterID != "Kubernetes" || r.ttl != 24*time.Hour {
		t.Errorf("request token %q clusterID %q ttl %s; want Bearer token-1, Kubernetes, 24h", r.token, r.clusterID, r.ttl)
	}
	if len(r.csr.URIs) != 1 || len(r.csr.DNSNames)+len(r.csr.IPAddresses)+len(r.csr.EmailAddresses) != 0 {
		t.Errorf("CSR SANs: URIs %v DNS %v IPs %v emails %v; want the SPIFFE id only", r.csr.URIs, r.csr.DNSNames, r.csr.IPAddresses, r.csr.EmailAddresses)
	}

	if logs.count("certificate issued") != 1 || !strings.Contains(logs.all(), "spiffe://cluster.local/ns/demo/sa/echo") {
		t.Errorf("want one 'certificate issued' line with the identity; logs:\n%s", logs.all())
	}
	key := readFile(t, filepath.Join(opts.OutputDir, KeyFile))
	if all := logs.all(); strings.Contains(all, "token-1") || strings.Contains(all, "PRIVATE KEY") || strings.Contains(all, string(key[40:80])) {
		t.Errorf("logs hold the token or the key:\n%s", all)
	}
}

func TestAgentRenewsAtHalfLifeWithNewKeyAndFreshToken(t *testing.T) {
	clk := clocktesting.NewFakeClock(time.Now().Truncate(time.Second)) // X.509 times are whole seconds
	ca := newTestCA(t, clk.Now)
	opts := testOptions(t, ca, clk, &logLines{})
	startAgent(t, opts)
	waitAsleep(t, clk)
	firstKey := readFile(t, filepath.Join(opts.OutputDir, KeyFile))
	first := readLeaf(t, opts.OutputDir)

	writeToken(t, opts.TokenFile, "token-2") // the kubelet rotated it
	ca.set(func(ca *testCA) { ca.token = "token-2" })
	clk.Step(12*time.Hour - time.Millisecond)
	if !clk.HasWaiters() || len(ca.recorded()) != 1 {
		t.Fatalf("the agent renewed before half-life (%d requests)", len(ca.recorded()))
	}
	clk.Step(time.Millisecond)
	waitUntil(t, "the renewal", func() bool { return len(ca.recorded()) == 2 })
	waitAsleep(t, clk)

	if got := ca.recorded()[1].token; got != "Bearer token-2" {
		t.Errorf("renewal sent token %q, want the rotated token-2", got)
	}
	second := readLeaf(t, opts.OutputDir)
	if !second.NotBefore.Equal(first.NotBefore.Add(12 * time.Hour)) {
		t.Errorf("renewed certificate NotBefore %s, want half-life %s", second.NotBefore, first.NotBefore.Add(12*time.Hour))
	}
	if bytes.Equal(readFile(t, filepath.Join(opts.OutputDir, KeyFile)), firstKey) {
		t.Error("the renewal kept the old key")
	}
	if _, err := tlsKeyPair(opts.OutputDir); err != nil {
		t.Errorf("renewed files are not a key pair: %v", err)
	}
}

func TestAgentRetriesWithBackoffAndKeepsFilesWhileCAUnreachable(t *testing.T) {
	clk := clocktesting.NewFakeClock(time.Now().Truncate(time.Second)) // X.509 times are whole seconds
	ca := newTestCA(t, clk.Now)
	logs := &logLines{}
	opts := testOptions(t, ca, clk, logs)
	startAgent(t, opts)
	waitAsleep(t, clk)
	chain := readFile(t, filepath.Join(opts.OutputDir, CertChainFile))
	key := readFile(t, filepath.Join(opts.OutputDir, KeyFile))

	ca.server.Stop()
	clk.Step(12 * time.Hour)
	const failed = "certificate request failed"
	waitUntil(t, "the first failure", func() bool { return logs.count(failed) == 1 })
	for i, delay := range []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 4 * time.Second} {
		waitAsleep(t, clk)
		clk.Step(delay - time.Millisecond)
		if !clk.HasWaiters() {
			t.Fatalf("retry %d came before its backoff of %s", i+1, delay)
		}
		clk.Step(time.Millisecond)
		waitUntil(t, "the next failure", func() bool { return logs.count(failed) == i+2 })
	}
	waitAsleep(t, clk)
	if !bytes.Equal(readFile(t, filepath.Join(opts.OutputDir, CertChainFile)), chain) ||
		!bytes.Equal(readFile(t, filepath.Join(opts.OutputDir, KeyFile)), key) {
		t.Fatal("failed renewals changed the files")
	}
	if logs.count(`"servingValidCertificate"=true`) != 5 {
		t.Errorf("a valid certificate was logged as expired:\n%s", logs.all())
	}

	// Past expiry the agent says so and keeps retrying at the cap.
	clk.Step(12 * time.Hour)
	waitUntil(t, "a failure past expiry", func() bool { return logs.count(`"servingValidCertificate"=false`) == 1 })
	waitAsleep(t, clk)

	ca.restart(t)
	clk.Step(4 * time.Second)
	waitUntil(t, "the renewal after the outage", func() bool { return logs.count("certificate issued") == 2 })
	waitAsleep(t, clk)
	if bytes.Equal(readFile(t, filepath.Join(opts.OutputDir, KeyFile)), key) {
		t.Error("the renewal after the outage kept the old key")
	}
	clk.Step(4 * time.Second)
	if !clk.HasWaiters() {
		t.Error("after a success the agent still retries at the backoff cap instead of waiting for half-life")
	}
}

func TestAgentRefusesWhatItCannotVerify(t *testing.T) {
	otherRootFile := filepath.Join(t.TempDir(), "other-root.pem")
	_, _, otherRoot := selfSigned(t, "another root")
	if err := os.WriteFile(otherRootFile, []byte(otherRoot), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		setup   func(*testCA, *Options)
		wantErr string
	}{
		{"CA signs another identity", func(ca *testCA, _ *Options) { ca.wrongID = true }, "want exactly spiffe://cluster.local/ns/demo/sa/echo"},
		{"CA signs another key", func(ca *testCA, _ *Options) { ca.wrongKey = true }, "not for the key in the request"},
		{"CA server certificate not from the root file", func(_ *testCA, o *Options) { o.CARootFile = otherRootFile }, "certificate signed by unknown authority"},
		{"CA server certificate for another name", func(_ *testCA, o *Options) { o.CAServerName = "other.test" }, "other.test"},
		{"token refused", func(ca *testCA, _ *Options) { ca.token = "another" }, "Unauthenticated"},
		{"token file missing", func(_ *testCA, o *Options) { o.TokenFile = filepath.Join(t.TempDir(), "none") }, "--token-file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ca := newTestCA(t, time.Now)
			opts := testOptions(t, ca, clock.RealClock{}, &logLines{})
			opts.Once = true
			opts.RequestTimeout = 5 * time.Second
			tt.setup(ca, &opts)
			err := Run(context.Background(), opts)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("Run = %v, want an error containing %q", err, tt.wantErr)
			}
			if _, statErr := os.Stat(opts.OutputDir); !os.IsNotExist(statErr) {
				t.Errorf("output dir written despite the error (stat: %v)", statErr)
			}
		})
	}
}

func TestAgentOptionsNameWhatIsMissing(t *testing.T) {
	ca := newTestCA(t, time.Now)
	tests := []struct {
		name    string
		change  func(*Options)
		wantErr string
	}{
		{"no namespace", func(o *Options) { o.Namespace = "" }, "POD_NAMESPACE"},
		{"no service account", func(o *Options) { o.ServiceAccount = "" }, "SERVICE_ACCOUNT"},
		{"no CA address", func(o *Options) { o.CAAddress, o.CAServerName = "", "" }, "CA_ADDR"},
		{"no output", func(o *Options) { o.OutputDir = "" }, "--output-dir"},
		{"bootstrap without xDS address", func(o *Options) { o.GRPCBootstrap = "b.json"; o.Bootstrap.PodName = "p" }, "XDS_ADDRESS"},
		{"unknown key algorithm", func(o *Options) { o.KeyAlgorithm = "DSA" }, "--key-algorithm"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opts := testOptions(t, ca, clock.RealClock{}, &logLines{})
			tt.change(&opts)
			if err := Run(context.Background(), opts); err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("Run = %v, want an error naming %s", err, tt.wantErr)
			}
		})
	}
}
