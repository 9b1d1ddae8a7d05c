package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"loom.dev/loom/internal/devcluster"
	"loom.dev/loom/test/bench/benchkit"
)

const (
	readyTimeout   = 5 * time.Minute
	caReadyTimeout = 2 * time.Minute
)

// run sets up the cluster and the identities once, then measures each control plane in
// turn (only one runs at a time).
func run(ctx context.Context, o options) (*report, error) {
	if err := o.check(); err != nil {
		return nil, err
	}
	if o.serviceAccounts == 0 {
		o.serviceAccounts = o.agents
	}
	rep := &report{Agents: o.agents, ServiceAccounts: o.serviceAccounts, FleetKey: string(o.fleetKey), FleetMode: string(o.fleetMode), WindowS: o.window.Seconds()}
	dir, err := os.MkdirTemp("", "loom-bench-ca-")
	if err != nil {
		return nil, err
	}
	if o.keep {
		logf(o.log, "logs and agent files in %s", dir)
	} else {
		defer func() { _ = os.RemoveAll(dir) }()
	}
	root, err := benchkit.ModuleRoot(ctx)
	if err != nil {
		return nil, err
	}
	bins, err := build(ctx, root, dir, o.peers, o.log)
	if err != nil {
		return nil, err
	}
	if o.signBench {
		logf(o.log, "pure signing rate: go test -bench BenchmarkSign ./pkg/ca")
		if rep.PureSignPerS, err = pureSignRates(ctx, root); err != nil {
			rep.PureSignErr = err.Error()
		}
	}

	logf(o.log, "starting etcd and kube-apiserver")
	cl, err := devcluster.Start(ctx, devcluster.Options{})
	if err != nil {
		return rep, fmt.Errorf("local cluster: %w", err)
	}
	defer func() {
		if err := cl.Stop(); err != nil {
			logf(o.log, "stopping the cluster: %v", err)
		}
	}()
	k, err := newKubeClients(cl.Config)
	if err != nil {
		return rep, err
	}
	start := time.Now()
	if err := benchkit.InstallIstioCRDs(ctx, k.ctrl, func(err error) error { return fmt.Errorf("istio.io/api CRDs: %w", err) }); err != nil {
		return rep, err
	}
	ids, err := setupIdentities(ctx, k, o.serviceAccounts, dir)
	if err != nil {
		return rep, err
	}
	logf(o.log, "Istio CRDs, %d ServiceAccounts and their tokens in %.1fs", len(ids), time.Since(start).Seconds())
	start = time.Now()
	pools := map[string][]csrRequest{}
	for _, alg := range caKeyAlgorithms {
		if pools[string(alg)], err = newCSRPool(ids[:min(o.ratePool, len(ids))], alg); err != nil {
			return rep, err
		}
	}
	logf(o.log, "CSRs for the signing rate made in %.1fs", time.Since(start).Seconds())
	var rawCSRs []csrRequest
	if o.fleetMode == fleetRaw {
		start = time.Now()
		if rawCSRs, err = fleetCSRs(ids, o.agents, o.fleetKey); err != nil {
			return rep, err
		}
		logf(o.log, "%d %s keys and CSRs for the raw clients made in %.1fs", o.agents, o.fleetKey, time.Since(start).Seconds())
	}

	m := cpuMeter{apiserver: firstChild("kube-apiserver"), etcd: firstChild("etcd")}
	if m.apiserver == 0 || m.etcd == 0 {
		logf(o.log, "warning: kube-apiserver (pid %d) or etcd (pid %d) not found among this process's children: their CPU reads 0", m.apiserver, m.etcd)
	}
	b := &bench{o: o, dir: dir, kubeconfig: cl.KubeconfigPath, k: k, ids: ids, pools: pools, fleetCSRs: rawCSRs, meter: m}
	planes := []func() (*controlPlane, error){func() (*controlPlane, error) { return loomPlane(bins.loom, cl.KubeconfigPath, dir, false) }}
	for _, p := range o.peers {
		switch p {
		case peerLoomKubeconfigFlag:
			planes = append(planes, func() (*controlPlane, error) { return loomPlane(bins.loom, cl.KubeconfigPath, dir, true) })
		case peerIstiod:
			planes = append(planes, func() (*controlPlane, error) { return istiodPlane(bins.istiod, cl.KubeconfigPath, dir, false) })
		case peerIstiodNoQPSLimit:
			planes = append(planes, func() (*controlPlane, error) { return istiodPlane(bins.istiod, cl.KubeconfigPath, dir, true) })
		}
	}
	var failed []string
	for _, newPlane := range planes {
		cp, err := newPlane()
		if err != nil {
			return rep, err
		}
		res := b.measure(ctx, cp)
		rep.Planes = append(rep.Planes, res)
		if res.Err != "" {
			logf(o.log, "%s failed: %s", cp.Name, res.Err)
			failed = append(failed, cp.Name)
		}
		if ctx.Err() != nil {
			return rep, ctx.Err()
		}
	}
	if len(failed) > 0 {
		return rep, fmt.Errorf("runs failed: %s", strings.Join(failed, ", "))
	}
	return rep, nil
}

func firstChild(comm string) int {
	if pids := childPIDs(comm); len(pids) > 0 {
		return pids[0]
	}
	return 0
}

// bench is what every control plane is measured with.
type bench struct {
	o          options
	dir        string
	kubeconfig string
	k          *kubeClients
	ids        []identity
	pools      map[string][]csrRequest
	fleetCSRs  []csrRequest // --fleet-mode raw
	meter      cpuMeter
}

// measure starts cp, waits for its CA, measures the signing rates and the agents' cold
// start, and stops it.
func (b *bench) measure(ctx context.Context, cp *controlPlane) *planeResult {
	res := &planeResult{Name: cp.Name}
	fail := func(err error) *planeResult { res.Err = err.Error(); return res }
	logf(b.o.log, "=== %s: starting", cp.Name)
	if err := cp.Start(ctx, readyTimeout); err != nil {
		return fail(err)
	}
	defer cp.Stop(10 * time.Second)
	res.StartupS = cp.Startup().Seconds()
	m := b.meter
	m.plane = cp.PID()

	work := filepath.Join(b.dir, cp.Name)
	if err := os.MkdirAll(work, 0o755); err != nil {
		return fail(err)
	}
	caStart := time.Now()
	c, err := waitForCA(ctx, b.k.cs, cp.caAddr, work, b.pools[string(caKeyAlgorithms[0])][0], caReadyTimeout)
	if err != nil {
		return fail(fmt.Errorf("%w; log %s:\n%s", err, cp.LogPath, benchkit.Tail(cp.LogPath, 20)))
	}
	res.CAReadyS = time.Since(caStart).Seconds()
	logf(b.o.log, "%s: ready after %.1fs, CA signing %.1fs later", cp.Name, res.StartupS, res.CAReadyS)

	var errs []error
	for _, alg := range caKeyAlgorithms {
		for _, n := range b.o.concurrency {
			r, err := measureRate(ctx, c, b.pools[string(alg)], string(alg), n, b.o.window, m)
			res.Rates = append(res.Rates, r)
			logf(b.o.log, "%s: %s, %d callers: %.1f certs/s (p50 %.1f ms, p99 %.1f ms, %d errors), plane CPU %.2fs, apiserver+etcd %.2fs",
				cp.Name, alg, n, r.PerSecond, r.P50Ms, r.P99Ms, r.Errors, r.CPU.plane, r.CPU.apiserver)
			if err != nil {
				return fail(err)
			}
			if r.Errors > 0 {
				errs = append(errs, fmt.Errorf("%s, %d callers: %d errors, first: %s", alg, n, r.Errors, r.FirstError))
			}
		}
	}

	logf(b.o.log, "%s: cold start of %d agents (%s, %s keys)", cp.Name, b.o.agents, b.o.fleetMode, b.o.fleetKey)
	fleetDir := filepath.Join(work, "agents")
	f, err := runFleet(ctx, b.o.fleetMode, c, b.ids, b.fleetCSRs, b.o.agents, b.o.fleetKey, fleetDir, b.o.fleetTimeout, m)
	res.Fleet = &f
	logf(b.o.log, "%s: %d/%d agents certified (%d retries), the last after %.2fs (p50 %.2fs, p99 %.2fs); CPU: plane %.1fs, apiserver+etcd %.1fs, agents %.1fs",
		cp.Name, f.OK, f.Agents, f.Retries, f.AllS, f.P50S, f.P99S, f.PlaneCPUS, f.APICPUS, f.AgentsCPUS)
	if err != nil {
		errs = append(errs, err)
	}
	if !b.o.keep {
		_ = os.RemoveAll(fleetDir)
	}
	if err := errors.Join(errs...); err != nil {
		return fail(err)
	}
	return res
}
