// Command soak runs `loom discovery` for a set time against a real local
// kube-apiserver under a steady stream of config and endpoint changes,
// Envoy-like clients that reconnect (test/bench/adsclients, restarted
// periodically) and short-lived proxies that each bring a new pod label set
// (a new view, as every rollout's pod-template-hash does). It prints the
// control plane's RSS, goroutines, views and config problems (from its
// /metrics) at the start, periodically and at the end, and exits non-zero
// if RSS or goroutines grew beyond the stated bounds after the warmup, or
// if the views of the short-lived proxies are not dropped once they left.
// It is part of `make bench` (make bench-soak), not of `make test`.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/go-logr/logr"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"
)

type options struct {
	duration, warmup, sample   time.Duration
	services, clients          int
	churnPerSecond             float64
	configEvery, endpointEvery time.Duration
	reconnectEvery             time.Duration
	bounds                     bounds
	keep                       bool
}

func main() {
	o := options{bounds: defaultBounds()}
	flag.DurationVar(&o.duration, "duration", 3*time.Minute, "how long to soak (after the warmup)")
	flag.DurationVar(&o.warmup, "warmup", 30*time.Second, "load before the baseline sample")
	flag.DurationVar(&o.sample, "sample", 15*time.Second, "how often to print a sample")
	flag.IntVar(&o.services, "services", 50, "services, each with an EndpointSlice of 5 endpoints")
	flag.IntVar(&o.clients, "clients", 50, "long-lived simulated sidecars (test/bench/adsclients)")
	flag.Float64Var(&o.churnPerSecond, "churn", 20, "short-lived proxies per second, each with a label set of its own")
	flag.DurationVar(&o.configEvery, "config-every", 2*time.Second, "a VirtualService change this often")
	flag.DurationVar(&o.endpointEvery, "endpoint-every", 500*time.Millisecond, "an EndpointSlice change this often")
	flag.DurationVar(&o.reconnectEvery, "reconnect-every", 30*time.Second, "restart the long-lived clients this often (every one reconnects)")
	flag.Float64Var(&o.bounds.rssGrowth, "max-rss-growth", o.bounds.rssGrowth, "fail if RSS at the end exceeds the baseline by more than this fraction")
	flag.Float64Var(&o.bounds.goroutineGrowth, "max-goroutine-growth", o.bounds.goroutineGrowth, "fail if goroutines at the end exceed the baseline by more than this fraction (plus --goroutine-slack)")
	flag.IntVar(&o.bounds.goroutineSlack, "goroutine-slack", o.bounds.goroutineSlack, "goroutines allowed above the fractional bound (streams in flight)")
	flag.BoolVar(&o.keep, "keep", false, "keep the folder with the processes' logs")
	flag.Parse()
	if o.duration <= 0 || o.warmup < 0 || o.sample <= 0 || o.services < 2 || o.clients < 1 || o.churnPerSecond < 0 {
		fmt.Fprintln(os.Stderr, "soak: --duration and --sample must be positive, --services at least 2, --clients at least 1, --warmup and --churn not negative")
		os.Exit(2)
	}

	ctrllog.SetLogger(logr.Discard()) // envtest's (inside devcluster) chatter
	ctx, cancel := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer cancel()
	if err := run(ctx, o); err != nil {
		fmt.Fprintln(os.Stderr, "soak:", err)
		os.Exit(1)
	}
}

func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "%s soak: %s\n", time.Now().Format("15:04:05.000"), fmt.Sprintf(format, args...))
}
