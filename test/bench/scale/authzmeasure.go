package main

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	securityv1 "istio.io/client-go/pkg/apis/security/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"loom.dev/loom/test/bench/benchkit"
)

// workloadStats are the figures of the workload proxies (workloadproxy.go)
// in one run: one replica of each workload the policies select, connected
// once the run's own measurements are done.
type workloadStats struct {
	proxies, synced int
	syncS           float64 // connect -> the last proxy has its full config
	syncCPUS        float64 // the control plane's CPU meanwhile
	bytesPerProxy   float64 // mean bytes a proxy received up to its full config
	httpRBAC        int     // proxies with an HTTP RBAC filter on an inbound chain
	policiesSeen    int     // distinct generated policies some proxy's RBAC filters name
	policiesTotal   int
	// vs: VirtualService changes as the run's own (seen by the clients),
	// made again with the workload proxies connected: with them, loom
	// serves one view per workload instead of the clients' one.
	vs     changeStats
	change changeStats // AuthorizationPolicy changes: write -> each affected proxy's ACK
	// peakRSS is the control plane's peak RSS (VmHWM) at the end of the
	// workload phase: the run's peak with one view per workload added.
	peakRSS int64
}

// measureWorkloads connects the workload proxies to cp, waits for their full
// config and records it, and measures VirtualService changes again on the
// clients; with policies it checks that every generated policy is in some
// proxy's RBAC filters, then measures policy changes. An error fails the
// run.
func (d *driver) measureWorkloads(ctx context.Context, cp *controlPlane, clients *clientsProc, withPolicies bool) (*workloadStats, error) {
	workloads := authzWorkloads(d.opts.authzPolicies)
	before, _ := readUsage(cp.PID())
	g := startWorkloadProxies(ctx, cp.xdsAddr, workloads, d.opts.clients)
	defer g.stop()
	st := &workloadStats{proxies: len(g.proxies)}
	defer func() {
		if u, err := readUsage(cp.PID()); err == nil {
			st.peakRSS = u.hwmBytes
		}
	}()
	last, err := g.waitSynced(ctx, d.opts.syncTimeout)
	after, _ := readUsage(cp.PID())
	st.syncCPUS = after.cpuSeconds - before.cpuSeconds
	var total int64
	for _, p := range g.proxies {
		p.mu.Lock()
		if !p.syncedAt.IsZero() {
			st.synced++
			total += p.bytesAtSync
		}
		if p.httpRBAC {
			st.httpRBAC++
		}
		p.mu.Unlock()
	}
	if err != nil {
		return st, err
	}
	st.syncS = last.Sub(g.started).Seconds()
	st.bytesPerProxy = float64(total) / float64(max(st.synced, 1))
	seen := g.policies()
	sleep(ctx, d.opts.settle)
	for range d.opts.changes {
		m, _ := d.work.vsChange(ctx)
		if err := d.measureChange(ctx, cp, clients, m, &st.vs); err != nil {
			return st, err
		}
	}
	if !withPolicies {
		d.logf("%s: %d workload proxies synced in %.2fs (control plane CPU %.1fs), %.0f KB each, no policies in their RBAC filters (%d named)",
			cp.Name, st.synced, st.syncS, st.syncCPUS, st.bytesPerProxy/1e3, len(seen))
		if len(seen) > 0 {
			return st, fmt.Errorf("without AuthorizationPolicies, the workload proxies' RBAC filters name %d policies", len(seen))
		}
		return st, nil
	}
	var missing []string
	for _, p := range authzPolicies(d.opts.authzPolicies) {
		st.policiesTotal++
		if seen[p.Namespace+"/"+p.Name] {
			st.policiesSeen++
		} else {
			missing = append(missing, p.Namespace+"/"+p.Name)
		}
	}
	d.logf("%s: %d workload proxies synced in %.2fs (control plane CPU %.1fs), %.0f KB each; %d with an HTTP RBAC filter; %d of %d policies in their RBAC filters",
		cp.Name, st.synced, st.syncS, st.syncCPUS, st.bytesPerProxy/1e3, st.httpRBAC, st.policiesSeen, st.policiesTotal)
	if len(missing) > 0 {
		return st, fmt.Errorf("%d of %d AuthorizationPolicies are in no workload proxy's RBAC filters (first: %s)",
			len(missing), st.policiesTotal, strings.Join(missing[:min(5, len(missing))], ", "))
	}
	if st.httpRBAC != st.proxies {
		return st, fmt.Errorf("%d of %d workload proxies have no HTTP RBAC filter: their inbound HTTP chains are missing", st.proxies-st.httpRBAC, st.proxies)
	}
	for k := range authzChanges(d.opts.changes) {
		if err := d.measurePolicyChange(ctx, g, k, &st.change); err != nil {
			return st, err
		}
	}
	d.logf("%s: AuthorizationPolicy change p50 %.0f ms p99 %.0f ms over %d proxy-changes", cp.Name, st.change.p(50), st.change.p(99), len(st.change.latenciesMs))
	return st, nil
}

// authzChanges is how many AuthorizationPolicy changes a run measures:
// twice the VirtualService changes, since each reaches only a few proxies.
func authzChanges(changes int) int { return 2 * changes }

// policies are the generated policies some proxy's RBAC filters name.
func (g *workloadProxies) policies() map[string]bool {
	out := map[string]bool{}
	for _, p := range g.proxies {
		p.mu.Lock()
		for n := range p.policies {
			out[n] = true
		}
		p.mu.Unlock()
	}
	return out
}

// measurePolicyChange makes the k-th AuthorizationPolicy change of the run,
// alternately: a team namespace's namespace-wide policy allows one more
// source namespace (affects every workload of that namespace), and a new
// DENY policy on one team workload (affects that workload). The change
// carries a unique token (a namespace name, a path); a proxy has the change
// once it ACKed an inbound listener carrying the token.
func (d *driver) measurePolicyChange(ctx context.Context, g *workloadProxies, k int, st *changeStats) error {
	w := d.work
	w.mu.Lock()
	w.changes++
	token := fmt.Sprintf("authz-change-%d", w.changes)
	w.mu.Unlock()
	teams := authzTeams(d.opts.authzPolicies)
	var affected []*workloadProxy
	var apply func(context.Context) error
	if ns, first := authzNamespaceWidePolicy(d.opts.authzPolicies, k/2%teams); k%2 == 0 && first != "" {
		for _, p := range g.proxies {
			if p.wl.namespace == ns {
				affected = append(affected, p)
			}
		}
		apply = func(ctx context.Context) error {
			return benchkit.RetryOnConflict(ctx, func() error {
				var ap securityv1.AuthorizationPolicy
				if err := w.c.Get(ctx, client.ObjectKey{Namespace: ns, Name: first}, &ap); err != nil {
					return err
				}
				ap.Spec = namespaceWideAllow(ns, token)
				return w.c.Update(ctx, &ap)
			})
		}
	} else {
		teamProxies := slices.DeleteFunc(slices.Clone(g.proxies), func(p *workloadProxy) bool { return p.wl.namespace == benchNamespace })
		target := teamProxies[(k*7)%len(teamProxies)]
		affected = []*workloadProxy{target}
		ap := &securityv1.AuthorizationPolicy{
			ObjectMeta: metav1.ObjectMeta{Name: token, Namespace: target.wl.namespace},
			Spec:       denyPaths(target.wl.app, "/"+token),
		}
		apply = func(ctx context.Context) error { return w.c.Create(ctx, ap) }
	}
	for _, p := range affected {
		p.arm(token)
	}
	if err := apply(ctx); err != nil {
		return fmt.Errorf("AuthorizationPolicy change %s: %w", token, err)
	}
	written := time.Now()
	times := waitSeen(ctx, affected, token, d.opts.changeTimeout)
	st.changes++
	var lat []float64
	for _, t := range times {
		if t.IsZero() {
			st.missed++
			continue
		}
		lat = append(lat, float64(t.Sub(written).Microseconds())/1e3)
	}
	st.latenciesMs = append(st.latenciesMs, lat...)
	d.logf("  %s: %d/%d affected workload proxies ACKed in min %.0f ms, max %.0f ms", token, len(lat), len(times), percentile(lat, 0), percentile(lat, 100))
	if err := g.failed(); err != nil {
		return err
	}
	sleep(ctx, d.opts.settle)
	return nil
}

// authzNamespaceWidePolicy is team namespace t and the name of its
// namespace-wide policy ("" when n policies leave it none).
func authzNamespaceWidePolicy(n, t int) (string, string) {
	namespaces := authzNamespaces(n)
	i := 1 + t // the benchmark's namespace is first; namespace k's first policy is authz-k
	if i >= n {
		return namespaces[i], ""
	}
	return namespaces[i], fmt.Sprintf("authz-%d", i)
}
