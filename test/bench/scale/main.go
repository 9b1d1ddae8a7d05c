// Command scale is the scale benchmark behind `make bench`: S services (an
// EndpointSlice of 5 endpoints each) in a real local kube-apiserver, and M
// simulated sidecars (test/bench/adsclients, a separate process) connected
// over ADS to each control plane in turn, each a separate process against
// the same apiserver and workload:
//
//   - loom: `loom discovery`, state of the world, and again with delta (--delta);
//   - baseline: a hand-written go-control-plane snapshot-cache server fed by
//     Loom's own watch/model/translate code (test/bench/baseline);
//   - istiod: Istio's pilot-discovery, built by hack/istiod.sh (the first
//     build takes about 7 minutes; later runs reuse it).
//
// It measures the cold sync (the clients start connecting -> every client
// has ACKed its full config), the convergence of VirtualService and
// single-endpoint changes (from the return of the apiserver write to each
// client's receipt), the bytes the clients received, and the control
// plane's CPU seconds and peak RSS (/proc). Then it measures the gRPC floor
// (test/bench/grpcfloor/floor) for what loom sent in this run: a gRPC-Go
// server that syncs as many client streams in a separate process as one of
// loom's clients synced (its bytes in as many messages, each after its
// round of requests, the requests' count and bytes too), then sends each
// one VirtualService change's bytes, with no protobuf work; and the same
// cold-sync bytes once more as one message per client, as information: an
// xDS exchange costs the bare transport more server CPU than one message.
// It prints a table, the ratios to the floor and to istiod, and the targets,
// then, as its last line, one JSON object with every figure.
//
// With --authz-policies N the workload also makes the proxies the policies
// will select servers (authzworkloads.go): a Service "client" (exported to
// no namespace, so no proxy's outbound config changes) selects the
// simulated clients, and each team namespace has a few workloads with a
// Service each. After its run, loom (SotW) connects one more simulated
// sidecar per selected workload (workloadproxy.go; a replica of the
// clients' among them) and records their config. Then the driver creates
// N AuthorizationPolicies (authz.go), each selecting the clients or one of
// those workloads, and runs loom again, SotW and delta (loom_authz,
// loom_delta_authz): the clients' cold sync, bytes per proxy and the
// changes' convergence are reported beside the runs without policies, as
// ratios (with / without); loom_authz then connects the workload proxies
// again, checks that every policy is named in some proxy's RBAC filters,
// and measures AuthorizationPolicy changes (authzmeasure.go) until each
// affected proxy ACKs. The peers run before the policies exist and are not
// compared.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/go-logr/logr"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"

	"loom.dev/loom/internal/devcluster"
	"loom.dev/loom/test/bench/benchkit"
)

type options struct {
	services, clients, conns int
	peers                    []string // baseline, istiod
	delta                    bool     // also run loom with the incremental protocol
	floor                    bool     // measure the gRPC floor for loom's bytes after the runs
	changes                  int      // VirtualService changes, then endpoint changes, per run
	authzPolicies            int      // > 0: then rerun loom with this many AuthorizationPolicies in place
	settle                   time.Duration
	readyTimeout             time.Duration
	syncTimeout              time.Duration
	changeTimeout            time.Duration
	keep                     bool // keep the logs' folder
	log                      io.Writer
}

func defaultOptions() options {
	return options{
		services: 1000, clients: 1000, peers: []string{"baseline", "istiod"}, delta: true, floor: true, changes: 5,
		settle: time.Second, readyTimeout: 5 * time.Minute, syncTimeout: 10 * time.Minute, changeTimeout: time.Minute,
		log: os.Stderr,
	}
}

func main() {
	ctrllog.SetLogger(logr.Discard()) // envtest's (inside devcluster) chatter
	o := defaultOptions()
	peers := strings.Join(o.peers, ",")
	flag.IntVar(&o.services, "services", o.services, "services S, each with an EndpointSlice of 5 endpoints")
	flag.IntVar(&o.clients, "clients", o.clients, "simulated ADS clients M")
	flag.IntVar(&o.conns, "conns", 0, "gRPC connections the clients share; 0 = one per client, as Envoys have")
	flag.StringVar(&peers, "peers", peers, "peers to compare with, comma separated: baseline, istiod (empty: loom only)")
	flag.BoolVar(&o.delta, "delta", o.delta, "also run loom with delta xDS (DeltaAggregatedResources)")
	flag.BoolVar(&o.floor, "floor", o.floor, "measure the gRPC floor for the exchange loom had (test/bench/grpcfloor)")
	flag.IntVar(&o.changes, "changes", o.changes, "VirtualService changes and endpoint changes measured per run (each)")
	flag.IntVar(&o.authzPolicies, "authz-policies", 0, "after the runs, create this many AuthorizationPolicies selecting the simulated proxies and run loom again (loom_authz, loom_delta_authz) beside the runs without them; also measures workload proxies and policy changes")
	flag.DurationVar(&o.settle, "settle", o.settle, "pause after the cold sync and after each change")
	flag.DurationVar(&o.syncTimeout, "sync-timeout", o.syncTimeout, "how long the cold sync may take")
	flag.DurationVar(&o.changeTimeout, "change-timeout", o.changeTimeout, "how long one change may take to reach every client")
	flag.BoolVar(&o.keep, "keep", false, "keep the folder with the processes' logs")
	flag.Parse()
	o.peers = benchkit.SplitList(peers)

	ctx, cancel := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer cancel()
	rep, err := run(ctx, o)
	if rep != nil {
		rep.printTable(os.Stdout)
		line, _ := json.Marshal(rep.json())
		fmt.Println(string(line))
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "scale:", err)
		os.Exit(1)
	}
}

type binaries struct{ loom, clients, baseline, istiod, floor string }

type driver struct {
	opts       options
	dir        string
	kubeconfig string
	bins       binaries
	work       *workload
}

func (d *driver) logf(format string, args ...any) {
	fmt.Fprintf(d.opts.log, "%s scale: %s\n", time.Now().Format("15:04:05.000"), fmt.Sprintf(format, args...))
}

// run sets up the cluster and the workload once, then measures each control plane.
func run(ctx context.Context, o options) (*report, error) {
	if o.services < 3 || o.services > 10000 {
		return nil, fmt.Errorf("--services must be between 3 and 10000")
	}
	if o.clients < 1 {
		return nil, fmt.Errorf("--clients must be at least 1")
	}
	for _, p := range o.peers {
		if p != "baseline" && p != "istiod" {
			return nil, fmt.Errorf("unknown peer %q (known: baseline, istiod)", p)
		}
	}
	if o.authzPolicies < 0 {
		return nil, fmt.Errorf("--authz-policies must not be negative")
	}
	if o.log == nil {
		o.log = io.Discard
	}
	dir, err := os.MkdirTemp("", "loom-bench-scale-")
	if err != nil {
		return nil, err
	}
	d := &driver{opts: o, dir: dir}
	if o.keep {
		d.logf("logs in %s", dir)
	} else {
		defer func() { _ = os.RemoveAll(dir) }()
	}
	if err := d.build(ctx); err != nil {
		return nil, err
	}

	d.logf("starting etcd and kube-apiserver")
	cl, err := devcluster.Start(ctx, devcluster.Options{})
	if err != nil {
		return nil, fmt.Errorf("local cluster: %w", err)
	}
	defer func() {
		if err := cl.Stop(); err != nil {
			d.logf("stopping the cluster: %v", err)
		}
	}()
	d.kubeconfig = cl.KubeconfigPath
	c, err := newClient(cl.Config)
	if err != nil {
		return nil, err
	}
	d.work = &workload{c: c, services: o.services}
	if err := d.work.setup(ctx, d.logf); err != nil {
		return nil, err
	}
	if o.authzPolicies > 0 {
		if err := d.work.setupAuthzWorkloads(ctx, o.authzPolicies, o.clients, d.logf); err != nil {
			return nil, err
		}
	}
	if err := os.MkdirAll(filepath.Join(dir, "istiod"), 0o755); err != nil {
		return nil, err
	}

	rep := &report{opts: o}
	type plan struct {
		make      func() (*controlPlane, error)
		delta     bool
		workloads workloadsPhase
	}
	// With policies to come, loom (SotW) measures the workload proxies
	// without them after its run, loom_authz with them.
	loomPhase, authzPhase := noWorkloads, noWorkloads
	if o.authzPolicies > 0 {
		loomPhase, authzPhase = workloadsWithoutPolicies, workloadsWithPolicies
	}
	plans := []plan{{func() (*controlPlane, error) { return d.loomPlane(false) }, false, loomPhase}}
	if o.delta {
		plans = append(plans, plan{func() (*controlPlane, error) { return d.loomPlane(true) }, true, noWorkloads})
	}
	for _, p := range o.peers {
		switch p {
		case "baseline":
			plans = append(plans, plan{d.baselinePlane, false, noWorkloads})
		case "istiod":
			plans = append(plans, plan{d.istiodPlane, false, noWorkloads})
		}
	}
	// The runs with AuthorizationPolicies come last: the policies stay.
	authzFrom := len(plans)
	if o.authzPolicies > 0 {
		plans = append(plans, plan{func() (*controlPlane, error) { return d.authzPlane(false) }, false, authzPhase})
		if o.delta {
			plans = append(plans, plan{func() (*controlPlane, error) { return d.authzPlane(true) }, true, noWorkloads})
		}
	}
	var failed []string
	for k, p := range plans {
		if k == authzFrom {
			if err := d.work.createAuthzPolicies(ctx, o.authzPolicies, d.logf); err != nil {
				return rep, fmt.Errorf("AuthorizationPolicies: %w", err)
			}
		}
		cp, err := p.make()
		if err != nil {
			return rep, err
		}
		res := d.runOne(ctx, cp, p.delta, p.workloads)
		rep.runs = append(rep.runs, res)
		if res.err != nil {
			d.logf("%s failed: %v", res.name, res.err)
			failed = append(failed, res.name)
		}
		if res.workloadsErr != nil {
			d.logf("%s: workload proxies failed: %v", res.name, res.workloadsErr)
			failed = append(failed, res.name+" workload proxies")
		}
		if ctx.Err() != nil {
			return rep, ctx.Err()
		}
	}
	if o.floor {
		rep.floor, rep.floorOneMessage, rep.floorErr = d.measureFloor(ctx, rep.run("loom"))
		if rep.floorErr != nil {
			d.logf("gRPC floor failed: %v", rep.floorErr)
			failed = append(failed, "grpc floor")
		}
	}
	if len(failed) > 0 {
		return rep, fmt.Errorf("runs failed: %s", strings.Join(failed, ", "))
	}
	return rep, nil
}

// build compiles loom, the clients and the baseline, and gets istiod (built
// by hack/istiod.sh on first use, cached outside the checkout).
func (d *driver) build(ctx context.Context) error {
	root, err := benchkit.ModuleRoot(ctx)
	if err != nil {
		return err
	}
	bin := filepath.Join(d.dir, "bin")
	d.logf("building loom, adsclients, baseline and grpcfloor")
	build := exec.CommandContext(ctx, "go", "build", "-o", bin+"/", ".", "./test/bench/adsclients", "./test/bench/baseline", "./test/bench/grpcfloor")
	build.Dir = root
	if b, err := build.CombinedOutput(); err != nil {
		return fmt.Errorf("go build: %w\n%s", err, b)
	}
	d.bins = binaries{loom: filepath.Join(bin, "loom"), clients: filepath.Join(bin, "adsclients"), baseline: filepath.Join(bin, "baseline"), floor: filepath.Join(bin, "grpcfloor")}
	for _, p := range d.opts.peers {
		if p != "istiod" {
			continue
		}
		d.logf("getting istiod (hack/istiod.sh; the first build takes about 7 minutes)")
		if d.bins.istiod, err = benchkit.Istiod(ctx, root, d.opts.log); err != nil {
			return err
		}
	}
	return nil
}
