// Command ca is the mesh CA benchmark behind `make bench-ca`: Loom's CA (inside `loom
// discovery`) and, where it is built, istiod's CA (Istio's pilot-discovery, run out of
// cluster as test/bench/scale runs it), each a separate process against the same local
// kube-apiserver and the same ServiceAccount tokens, answer Istio's CSR API
// (istio.v1.auth.IstioCertificateService/CreateCertificate) over TLS. It measures:
//
//   - certificates signed per second end to end (TLS gRPC + TokenReview + sign) with RSA
//     2048 and ECDSA P-256 workload keys at a few numbers of concurrent callers, each on
//     its own connection, with CSRs made beforehand; next to it, the pure signing rate of
//     pkg/ca's BenchmarkSign;
//   - the cold start of N agents, in-process `loom agent`s (internal/agent with Once) or
//     raw CSR clients with keys made beforehand (--fleet-mode raw): the time until every
//     one has its first certificate, from N ServiceAccounts with a TokenRequest token
//     each (made beforehand, not timed);
//
// and the CPU seconds of the control plane, of kube-apiserver + etcd (which answer the
// TokenReviews) and of this process during each measurement (/proc). It prints a table
// and the loom/istiod ratios, then, as its last line, one JSON object with every figure.
// Nothing is asserted: it is a benchmark.
//
// Both CAs call TokenReview through a client-side rate limiter unless told otherwise:
// istiod's Kubernetes client allows 80 requests/s (burst 160), so "istiod" is capped near
// 80 certificates/s, and "istiod_no_qps_limit" lifts that limit to show its CA's own
// cost; loom has no limit when its kubeconfig comes as it does in a cluster (here through
// KUBECONFIG), and client-go's 5/s when given --kubeconfig ("loom_kubeconfig_flag").
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"github.com/go-logr/logr"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"

	"loom.dev/loom/internal/agent"
	"loom.dev/loom/pkg/ca"
	"loom.dev/loom/test/bench/benchkit"
)

type options struct {
	agents          int
	serviceAccounts int // 0: one per agent
	concurrency     []int
	window          time.Duration
	ratePool        int // identities whose CSRs the rate measurement cycles through
	fleetKey        agent.KeyAlgorithm
	fleetMode       fleetMode
	fleetTimeout    time.Duration
	peers           []string
	signBench       bool
	keep            bool
	log             io.Writer
}

func main() {
	o := options{log: os.Stderr}
	var conc, peers, fleetKey, mode string
	flag.IntVar(&o.agents, "agents", 1000, "agents started at once for the cold start")
	flag.IntVar(&o.serviceAccounts, "service-accounts", 0, "ServiceAccounts, one token each; agent i uses ServiceAccount i mod this (0: one per agent)")
	flag.StringVar(&conc, "concurrency", "1,8,64", "concurrent callers for the signing rate, comma separated")
	flag.DurationVar(&o.window, "window", 5*time.Second, "how long each signing-rate measurement lasts")
	flag.IntVar(&o.ratePool, "rate-identities", 32, "ServiceAccounts (and CSRs per key algorithm) the signing-rate callers cycle through")
	flag.StringVar(&fleetKey, "fleet-key", string(agent.ECDSAP256), "the agents' key algorithm: ECDSA_P256, or RSA2048 (Istio's default; 1000 RSA keys take about a minute of CPU here, on the same cores as the CA)")
	flag.StringVar(&mode, "fleet-mode", string(fleetAgents), "the agents of the cold start: agents (in-process internal/agent, Once) or raw (CSR clients with keys and CSRs made beforehand)")
	flag.DurationVar(&o.fleetTimeout, "fleet-timeout", 10*time.Minute, "how long the agents' cold start may take (also each agent's request timeout)")
	flag.StringVar(&peers, "peers", peerIstiod+","+peerIstiodNoQPSLimit, "control planes to compare with loom, comma separated: istiod, istiod_no_qps_limit, loom_kubeconfig_flag (empty: loom only)")
	flag.BoolVar(&o.signBench, "sign-bench", true, "run pkg/ca's BenchmarkSign first for the pure signing rate")
	flag.BoolVar(&o.keep, "keep", false, "keep the folder with the logs and the agents' files")
	flag.Parse()
	var err error
	if o.concurrency, err = parseInts(conc); err != nil {
		fmt.Fprintln(os.Stderr, "ca: --concurrency:", err)
		os.Exit(2)
	}
	o.fleetKey, o.fleetMode = agent.KeyAlgorithm(fleetKey), fleetMode(mode)
	o.peers = benchkit.SplitList(peers)

	// envtest (under devcluster) logs through controller-runtime; its lines are not wanted.
	ctrllog.SetLogger(logr.Discard())
	ctx, cancel := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer cancel()
	rep, err := run(ctx, o)
	if rep != nil {
		rep.print(os.Stdout)
		fmt.Println(rep.jsonLine())
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "ca:", err)
		os.Exit(1)
	}
}

func (o *options) check() error {
	switch {
	case o.agents < 1:
		return fmt.Errorf("--agents %d: want at least 1", o.agents)
	case o.serviceAccounts < 0:
		return fmt.Errorf("--service-accounts %d: want 0 (one per agent) or more", o.serviceAccounts)
	case o.ratePool < 1:
		return fmt.Errorf("--rate-identities %d: want at least 1", o.ratePool)
	case o.window < time.Second:
		return fmt.Errorf("--window %s: want at least 1s", o.window)
	case o.fleetKey != agent.RSA2048 && o.fleetKey != agent.ECDSAP256:
		return fmt.Errorf("--fleet-key %q: want %s or %s", o.fleetKey, agent.ECDSAP256, agent.RSA2048)
	case o.fleetMode != fleetAgents && o.fleetMode != fleetRaw:
		return fmt.Errorf("--fleet-mode %q: want %s or %s", o.fleetMode, fleetAgents, fleetRaw)
	}
	for _, c := range o.concurrency {
		if c < 1 {
			return fmt.Errorf("--concurrency %d: want at least 1", c)
		}
	}
	for _, p := range o.peers {
		if p != peerIstiod && p != peerIstiodNoQPSLimit && p != peerLoomKubeconfigFlag {
			return fmt.Errorf("--peers: unknown control plane %q (known: %s, %s, %s)", p, peerIstiod, peerIstiodNoQPSLimit, peerLoomKubeconfigFlag)
		}
	}
	return nil
}

func parseInts(s string) ([]int, error) {
	var out []int
	for _, f := range benchkit.SplitList(s) {
		n, err := strconv.Atoi(f)
		if err != nil {
			return nil, fmt.Errorf("%q is not a number", f)
		}
		out = append(out, n)
	}
	return out, nil
}

func logf(w io.Writer, format string, args ...any) {
	fmt.Fprintf(w, "%s ca: %s\n", time.Now().Format("15:04:05.000"), fmt.Sprintf(format, args...))
}

// Control planes measured besides loom.
const (
	peerIstiod = "istiod"
	// peerIstiodNoQPSLimit is istiod with its Kubernetes client's rate limit
	// (--kubernetesApiQPS 80, --kubernetesApiBurst 160 by default) lifted.
	peerIstiodNoQPSLimit = "istiod_no_qps_limit"
	// peerLoomKubeconfigFlag is loom given --kubeconfig, which keeps client-go's default
	// client-side rate limit (see loomPlane).
	peerLoomKubeconfigFlag = "loom_kubeconfig_flag"
)

type binaries struct{ loom, istiod string }

// build compiles loom and gets istiod (hack/istiod.sh builds it on first use, about 7
// minutes, into a cache outside the checkout).
func build(ctx context.Context, root, dir string, peers []string, log io.Writer) (binaries, error) {
	var b binaries
	b.loom = filepath.Join(dir, "bin", "loom")
	logf(log, "building loom")
	cmd := exec.CommandContext(ctx, "go", "build", "-o", b.loom, ".")
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		return b, fmt.Errorf("go build loom: %w\n%s", err, out)
	}
	for _, p := range peers {
		if (p != peerIstiod && p != peerIstiodNoQPSLimit) || b.istiod != "" {
			continue
		}
		logf(log, "getting istiod (hack/istiod.sh; the first build takes about 7 minutes)")
		istiod, err := benchkit.Istiod(ctx, root, log)
		if err != nil {
			return b, err
		}
		b.istiod = istiod
	}
	return b, nil
}

// caKeyAlgorithms are the workload keys of the signing-rate measurement.
var caKeyAlgorithms = []ca.KeyAlgorithm{ca.RSA2048, ca.ECDSAP256}
