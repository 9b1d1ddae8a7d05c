package main

import (
	"context"
	"errors"
	"fmt"
	"math"
	"os/exec"
	"path/filepath"
	"strconv"
	"time"

	"loom.dev/loom/test/bench/benchkit"
	"loom.dev/loom/test/bench/benchproto"
	"loom.dev/loom/test/bench/grpcfloor/floor"
)

// marker is a change the driver makes and what shows that a client got it.
type marker struct {
	id, kind                 string
	domain, cluster, address string
	apply                    func(context.Context) error
}

// changeStats are the convergence measurements of one kind of change.
type changeStats struct {
	latenciesMs []float64 // per client per change: seen - the write's return
	missed      int       // client-changes not seen within the timeout
	changes     int
	bytes       int64       // received while the changes converged
	clientsCPUS float64     // the clients' CPU while the changes converged
	cpuS        float64     // the control plane's
	parts       []pushParts // loom's own account of each change (see lastPushParts)
}

func (c *changeStats) p(q float64) float64 { return percentile(c.latenciesMs, q) }

// runResult is everything measured for one control plane in one mode.
type runResult struct {
	name  string // loom, loom_delta, baseline, istiod
	delta bool
	err   error

	startupS          float64 // process start -> ready
	coldSyncS         float64 // clients start connecting -> the last client has its full config
	coldSyncClientP50 float64 // per-client time to full config
	coldSyncClientP99 float64
	coldSyncCPUS      float64 // control-plane CPU during the cold sync
	coldSyncClientsS  float64 // the clients' CPU during the cold sync
	coldSyncBytes     int64
	synced            int // clients that got their full config
	// What the clients received and sent during the cold sync, in messages
	// and bytes: the gRPC floor repeats the exchange.
	coldSyncResponses, coldSyncRequests, coldSyncRequestBytes int64
	vs, ep                                                    changeStats
	bytes                                                     int64   // received by all clients over the whole run
	cpuS                                                      float64 // control-plane CPU, whole process lifetime
	peakRSS                                                   int64   // VmHWM
	clientsCPUS                                               float64
	otherCPUS                                                 float64 // everything else on the machine during the run: apiserver, etcd, the driver, other users
	wallS                                                     float64 // from the clients' start to the end of the run
	streamErrors                                              int64
	// statusWrites are the status writes on Istio objects sent from the clients' start to the
	// end of the run (loom only; NaN when not measured).
	statusWrites float64
	// workloads: the workload proxies' figures, measured after everything
	// above (nil: not measured); workloadsErr fails the run's workload part.
	workloads    *workloadStats
	workloadsErr error
}

// workloadsPhase says whether and how a run measures the workload proxies.
type workloadsPhase int

const (
	noWorkloads              workloadsPhase = iota
	workloadsWithoutPolicies                // loom before the policies exist
	workloadsWithPolicies                   // loom_authz
)

// runOne starts the control plane, connects the clients, measures, and stops both.
// Then, if asked, it measures the workload proxies (measureWorkloads) against the
// same control plane, the clients still connected; the run's other figures are
// taken before.
func (d *driver) runOne(ctx context.Context, cp *controlPlane, delta bool, workloads workloadsPhase) (res *runResult) {
	res = &runResult{name: cp.Name, delta: delta}
	d.logf("=== %s: starting", cp.Name)
	if err := cp.Start(ctx, d.opts.readyTimeout); err != nil {
		res.err = err
		return res
	}
	defer cp.Stop(5 * time.Second)
	res.startupS = cp.Startup().Seconds()
	d.logf("%s: ready after %.1fs", cp.Name, res.startupS)

	args := []string{
		"--server", cp.xdsAddr, "--clients", strconv.Itoa(d.opts.clients), "--conns", strconv.Itoa(d.opts.conns),
		"--namespace", benchNamespace, "--expect-clusters", strconv.Itoa(d.opts.services), "--expect-endpoints", strconv.Itoa(endpointsPer),
	}
	if delta {
		args = append(args, "--delta")
	}
	clients, err := startClients(d.bins.clients, filepath.Join(d.dir, cp.Name+"-clients.log"), args)
	if err != nil {
		res.err = err
		return res
	}
	defer clients.stop()

	busyAtStart, wallStart := systemBusySeconds(), time.Now()
	cpAtStart, _ := readUsage(cp.PID())
	res.statusWrites = math.NaN()
	writesAtStart, writesErr := statusWritesOf(cp)
	closed := false
	closeFigures := func() { // once: before the workload proxies, else at return
		if closed {
			return
		}
		closed = true
		if writesAtEnd, err := statusWritesOf(cp); err == nil && writesErr == nil {
			res.statusWrites = writesAtEnd - writesAtStart
		}
		res.wallS = time.Since(wallStart).Seconds()
		res.otherCPUS = systemBusySeconds() - busyAtStart - (res.cpuS - cpAtStart.cpuSeconds) - res.clientsCPUS
	}
	defer closeFigures()
	fail := func(err error) *runResult {
		res.err = err
		d.sampleEnd(cp, clients, res)
		return res
	}
	started, err := clients.wait(ctx, benchproto.EventStarted, "", 30*time.Second)
	if err != nil {
		return fail(fmt.Errorf("clients did not start: %w", err))
	}
	cpuAtStart, _ := readUsage(cp.PID())
	synced, err := clients.wait(ctx, benchproto.EventSynced, "", d.opts.syncTimeout)
	if err != nil {
		if errors.Is(err, errTimeout) {
			err = fmt.Errorf("not every client got its full config within %s (see %s)", d.opts.syncTimeout, clients.logPath)
		}
		return fail(err)
	}
	cpuAtSync, _ := readUsage(cp.PID())
	var perClient []float64
	last := started.T
	for _, t := range synced.Times {
		if t > 0 {
			res.synced++
			perClient = append(perClient, float64(t-started.T)/1e9)
			last = max(last, t)
		}
	}
	res.coldSyncS = float64(last-started.T) / 1e9
	res.coldSyncClientP50 = percentile(perClient, 50)
	res.coldSyncClientP99 = percentile(perClient, 99)
	res.coldSyncCPUS = cpuAtSync.cpuSeconds - cpuAtStart.cpuSeconds
	res.coldSyncClientsS = synced.CPUSeconds
	res.coldSyncBytes = synced.BytesReceived
	res.coldSyncResponses, res.coldSyncRequests, res.coldSyncRequestBytes = synced.Responses, synced.Requests, synced.BytesSent
	d.logf("%s: %d clients synced in %.2fs (per client p50 %.2fs p99 %.2fs), control plane CPU %.1fs, clients CPU %.1fs, %.1f MB",
		cp.Name, res.synced, res.coldSyncS, res.coldSyncClientP50, res.coldSyncClientP99, res.coldSyncCPUS, res.coldSyncClientsS, float64(res.coldSyncBytes)/1e6)

	sleep(ctx, d.opts.settle)
	for range d.opts.changes {
		m, _ := d.work.vsChange(ctx)
		if err := d.measureChange(ctx, cp, clients, m, &res.vs); err != nil {
			return fail(err)
		}
	}
	for range d.opts.changes {
		m, _ := d.work.endpointChange(ctx)
		if err := d.measureChange(ctx, cp, clients, m, &res.ep); err != nil {
			return fail(err)
		}
	}
	d.sampleEnd(cp, clients, res)
	d.logf("%s: VirtualService change p50 %.0f ms p99 %.0f ms; endpoint change p50 %.0f ms p99 %.0f ms; CPU %.1fs; peak RSS %.0f MB",
		cp.Name, res.vs.p(50), res.vs.p(99), res.ep.p(50), res.ep.p(99), res.cpuS, float64(res.peakRSS)/1e6)
	if workloads != noWorkloads {
		closeFigures()
		res.workloads, res.workloadsErr = d.measureWorkloads(ctx, cp, clients, workloads == workloadsWithPolicies)
	}
	return res
}

// measureChange arms the marker in the clients, makes the change, and
// collects when each client saw it, relative to when the write returned.
// statusWritesOf reads a control plane's status writes so far; an error when it does not
// export them.
func statusWritesOf(cp *controlPlane) (float64, error) {
	if cp.metricsURL == "" {
		return 0, errors.New("no loom metrics")
	}
	return statusWrites(cp.metricsURL)
}

func (d *driver) measureChange(ctx context.Context, cp *controlPlane, clients *clientsProc, m marker, st *changeStats) error {
	cmd := benchproto.Command{Cmd: benchproto.CmdExpect, ID: m.id, Kind: m.kind, Domain: m.domain, Cluster: m.cluster, Address: m.address}
	if err := clients.send(cmd); err != nil {
		return err
	}
	armed, err := clients.wait(ctx, benchproto.EventArmed, m.id, 30*time.Second)
	if err != nil {
		return fmt.Errorf("arming %s: %w", m.id, err)
	}
	before, _ := readUsage(cp.PID())
	if err := m.apply(ctx); err != nil {
		return fmt.Errorf("change %s: %w", m.id, err)
	}
	written := time.Now().UnixNano()
	seen, err := clients.wait(ctx, benchproto.EventSeen, m.id, d.opts.changeTimeout)
	if errors.Is(err, errTimeout) {
		if err := clients.send(benchproto.Command{Cmd: benchproto.CmdReport, ID: m.id}); err != nil {
			return err
		}
		seen, err = clients.wait(ctx, benchproto.EventSeen, m.id, 30*time.Second)
	}
	if err != nil {
		return fmt.Errorf("change %s: %w", m.id, err)
	}
	st.changes++
	st.bytes += seen.BytesReceived - armed.BytesReceived
	st.clientsCPUS += seen.CPUSeconds - armed.CPUSeconds
	after, _ := readUsage(cp.PID())
	st.cpuS += after.cpuSeconds - before.cpuSeconds
	var lat []float64
	for _, t := range seen.Times {
		if t == 0 {
			st.missed++
			continue
		}
		lat = append(lat, float64(t-written)/1e6)
	}
	st.latenciesMs = append(st.latenciesMs, lat...)
	if cp.metricsURL != "" && len(lat) > 0 {
		if parts, err := lastPushParts(cp.metricsURL, pushReason(m.kind), written, written+int64(percentile(lat, 50)*1e6)); err == nil {
			st.parts = append(st.parts, parts)
		} else {
			d.logf("  %s: no push breakdown: %v", m.id, err)
		}
	}
	d.logf("  %s: %d/%d clients in min %.0f ms, p50 %.0f ms, max %.0f ms; CPU: control plane %.2fs, clients %.2fs", m.id, len(lat), len(seen.Times),
		percentile(lat, 0), percentile(lat, 50), percentile(lat, 100), after.cpuSeconds-before.cpuSeconds, seen.CPUSeconds-armed.CPUSeconds)
	// Let the push finish everywhere before the next change.
	sleep(ctx, d.opts.settle)
	return nil
}

// sampleEnd records the process-level figures at the end of a run.
func (d *driver) sampleEnd(cp *controlPlane, clients *clientsProc, res *runResult) {
	if cp.Alive() {
		if u, err := readUsage(cp.PID()); err == nil {
			res.cpuS, res.peakRSS = u.cpuSeconds, u.hwmBytes
		}
	}
	if err := clients.send(benchproto.Command{Cmd: benchproto.CmdStats}); err == nil {
		if st, err := clients.wait(context.Background(), benchproto.EventStats, "", 10*time.Second); err == nil {
			res.bytes, res.clientsCPUS, res.streamErrors = st.BytesReceived, st.CPUSeconds, st.StreamErrors
		}
	}
}

func sleep(ctx context.Context, d time.Duration) {
	select {
	case <-ctx.Done():
	case <-time.After(d):
	}
}

// percentile of xs (nearest rank); NaN when empty.
var percentile = floor.Percentile

// The three control planes.

func (d *driver) loomPlane(delta bool) (*controlPlane, error) {
	name := "loom"
	if delta {
		name = "loom_delta"
	}
	a, err := benchkit.FreeAddrs(2)
	if err != nil {
		return nil, err
	}
	xds, mon := a[0], a[1]
	cmd := exec.Command(d.bins.loom, "discovery", "--kubeconfig", d.kubeconfig,
		"--xds-address", xds, "--monitoring-address", mon, "--root-namespace", rootNamespace, "--secure-address", "127.0.0.1:0")
	return &controlPlane{
		Process:    benchkit.Process{Name: name, Cmd: cmd, ReadyURL: "http://" + mon + "/ready", LogPath: filepath.Join(d.dir, name+".log")},
		xdsAddr:    xds,
		metricsURL: "http://" + mon + "/metrics",
	}, nil
}

func (d *driver) baselinePlane() (*controlPlane, error) {
	a, err := benchkit.FreeAddrs(2)
	if err != nil {
		return nil, err
	}
	xds, mon := a[0], a[1]
	cmd := exec.Command(d.bins.baseline, "--kubeconfig", d.kubeconfig,
		"--xds-address", xds, "--http-address", mon, "--root-namespace", rootNamespace)
	return &controlPlane{
		Process: benchkit.Process{Name: "baseline", Cmd: cmd, ReadyURL: "http://" + mon + "/ready", LogPath: filepath.Join(d.dir, "baseline.log")},
		xdsAddr: xds,
	}, nil
}

// istiodPlane is istiod run out of cluster (benchkit.IstiodEnv), with its
// xDS on plain gRPC.
func (d *driver) istiodPlane() (*controlPlane, error) {
	a, err := benchkit.FreeAddrs(5)
	if err != nil {
		return nil, err
	}
	grpcAddr, httpAddr, httpsAddr, secureGRPC, monitoring := a[0], a[1], a[2], a[3], a[4]
	dir := filepath.Join(d.dir, "istiod")
	cmd := exec.Command(d.bins.istiod, "discovery",
		"--kubeconfig", d.kubeconfig,
		"--grpcAddr", grpcAddr, "--httpAddr", httpAddr, "--httpsAddr", httpsAddr,
		"--secureGRPCAddr", secureGRPC, "--monitoringAddr", monitoring,
		"--meshConfig", filepath.Join(dir, "mesh"), "--networksConfig", filepath.Join(dir, "meshNetworks"),
		"--domain", "cluster.local", "--clusterID", "Kubernetes",
		"--log_output_level", "default:info",
	)
	cmd.Dir = dir
	cmd.Env = benchkit.IstiodEnv(rootNamespace)
	return &controlPlane{
		Process: benchkit.Process{Name: "istiod", Cmd: cmd, ReadyURL: "http://" + httpAddr + "/ready", LogPath: filepath.Join(d.dir, "istiod.log")},
		xdsAddr: grpcAddr,
	}, nil
}
