package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"loom.dev/loom/internal/devcluster"
	"loom.dev/loom/test/bench/benchkit"
)

func run(ctx context.Context, o options) error {
	dir, err := os.MkdirTemp("", "loom-bench-soak-")
	if err != nil {
		return err
	}
	if o.keep {
		logf("logs in %s", dir)
	} else {
		defer func() { _ = os.RemoveAll(dir) }()
	}
	loomBin, clientsBin, err := build(ctx, filepath.Join(dir, "bin"))
	if err != nil {
		return err
	}
	crds := filepath.Join(dir, "crds")
	if err := os.MkdirAll(crds, 0o755); err != nil {
		return err
	}
	if err := writeCRDs(crds); err != nil {
		return err
	}
	logf("starting etcd and kube-apiserver")
	cl, err := devcluster.Start(ctx, devcluster.Options{CRDDirectoryPaths: []string{crds}})
	if err != nil {
		return fmt.Errorf("local cluster: %w", err)
	}
	defer func() { _ = cl.Stop() }()
	w, err := newWorkload(cl.Config, o.services)
	if err != nil {
		return err
	}
	if err := w.create(ctx); err != nil {
		return fmt.Errorf("workload: %w", err)
	}

	a, err := benchkit.FreeAddrs(2)
	if err != nil {
		return err
	}
	xdsAddr, monAddr := a[0], a[1]
	loom := &benchkit.Process{
		Name: "loom discovery", LogPath: filepath.Join(dir, "loom.log"), ReadyURL: "http://" + monAddr + "/ready",
		Cmd: exec.Command(loomBin, "discovery", "--kubeconfig", cl.KubeconfigPath,
			"--xds-address", xdsAddr, "--monitoring-address", monAddr, "--root-namespace", rootNamespace, "--secure-address", "127.0.0.1:0"),
	}
	if err := loom.Start(ctx, 2*time.Minute); err != nil {
		return err
	}
	defer loom.Stop(5 * time.Second)
	start := time.Now()
	metrics := func() (sample, error) { return scrape("http://"+monAddr+"/metrics", time.Since(start)) }
	first, err := metrics()
	if err != nil {
		return err
	}
	fmt.Println("start    ", first)

	load, stopLoad := context.WithCancel(ctx)
	defer stopLoad()
	var changeFailures atomic.Int64
	go every(load, o.configEvery, &changeFailures, w.changeConfig)
	go every(load, o.endpointEvery, &changeFailures, w.changeEndpoint)
	conn, err := grpc.NewClient(xdsAddr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return err
	}
	defer func() { _ = conn.Close() }()
	ch := &churn{conn: conn}
	churned := make(chan struct{})
	go func() { defer close(churned); ch.run(load, o.churnPerSecond) }()

	clientsLog, err := openLog(filepath.Join(dir, "adsclients.log"))
	if err != nil {
		return err
	}
	defer func() { _ = clientsLog.Close() }()
	args := []string{"--server", xdsAddr, "--clients", strconv.Itoa(o.clients), "--namespace", namespace,
		"--expect-clusters", strconv.Itoa(o.services), "--expect-endpoints", strconv.Itoa(endpointsPer)}
	sc, err := startSidecars(clientsBin, args, clientsLog)
	if err != nil {
		return err
	}
	defer func() { sc.stop() }()
	synced := func() error { return sc.waitSynced(ctx, 2*time.Minute) }
	if err := synced(); err != nil {
		return err
	}

	var base sample
	warm := time.After(o.warmup)
	end := time.After(o.warmup + o.duration)
	reconnect := time.NewTicker(o.reconnectEvery)
	defer reconnect.Stop()
	tick := time.NewTicker(o.sample)
	defer tick.Stop()
	restarts := 0
loop:
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-loom.Exited():
			return fmt.Errorf("loom discovery exited (log %s)", loom.LogPath)
		case <-reconnect.C:
			sc.stop()
			if sc, err = startSidecars(clientsBin, args, clientsLog); err != nil {
				return err
			}
			restarts++
			if err := synced(); err != nil {
				return fmt.Errorf("after reconnecting: %w", err)
			}
		case <-tick.C:
			if s, err := metrics(); err == nil {
				fmt.Println("         ", s)
			}
		case <-warm:
			if err := synced(); err != nil {
				return err
			}
			if base, err = metrics(); err != nil {
				return err
			}
			fmt.Println("baseline ", base)
		case <-end:
			break loop
		}
	}
	if err := synced(); err != nil {
		return err
	}
	last, err := metrics()
	if err != nil {
		return err
	}
	fmt.Println("end      ", last)

	// Everyone leaves: the views must go once their grace period is over.
	stopLoad()
	<-churned
	sc.stop()
	after, err := waitViewsGone(ctx, metrics)
	fmt.Println("left     ", after)
	fmt.Printf("short-lived proxies served %d, failed %d, skipped %d (16 already in flight); config and endpoint changes %d (failed %d); %d reconnect rounds of %d sidecars\n",
		ch.served.Load(), ch.failed.Load(), ch.skipped.Load(), w.changes.Load(), changeFailures.Load(), restarts, o.clients)
	var problems []string
	if err != nil {
		problems = append(problems, err.Error())
	}
	if ch.served.Load() == 0 && o.churnPerSecond > 0 {
		problems = append(problems, "no short-lived proxy was served")
	}
	if f := ch.failed.Load(); f > ch.served.Load()/100 {
		problems = append(problems, fmt.Sprintf("%d short-lived proxies got no config (more than 1%%)", f))
	}
	problems = append(problems, o.bounds.check(base, last)...)
	if len(problems) > 0 {
		return fmt.Errorf("%s", strings.Join(problems, "; "))
	}
	fmt.Printf("PASS: from the baseline to the end RSS %+.1f%% (bound +%.0f%%), goroutines %+.0f (bound +%.0f%% +%d)\n",
		100*(last.rss/base.rss-1), 100*o.bounds.rssGrowth, last.goroutines-base.goroutines, 100*o.bounds.goroutineGrowth, o.bounds.goroutineSlack)
	return nil
}

// waitViewsGone waits until no view and no stream is left (the views' grace
// period is 10s), up to a minute.
func waitViewsGone(ctx context.Context, metrics func() (sample, error)) (sample, error) {
	deadline := time.Now().Add(time.Minute)
	for {
		s, err := metrics()
		if err == nil && s.views == 0 && s.proxies == 0 {
			return s, nil
		}
		if time.Now().After(deadline) {
			return s, fmt.Errorf("views of departed proxies not dropped: %.0f views, %.0f streams a minute after every proxy left", s.views, s.proxies)
		}
		select {
		case <-ctx.Done():
			return s, ctx.Err()
		case <-time.After(time.Second):
		}
	}
}

// build compiles loom and test/bench/adsclients into bin.
func build(ctx context.Context, bin string) (loom, clients string, err error) {
	root, err := benchkit.ModuleRoot(ctx)
	if err != nil {
		return "", "", err
	}
	logf("building loom and adsclients")
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin+"/", ".", "./test/bench/adsclients")
	cmd.Dir = root
	if b, err := cmd.CombinedOutput(); err != nil {
		return "", "", fmt.Errorf("go build: %w\n%s", err, b)
	}
	return filepath.Join(bin, "loom"), filepath.Join(bin, "adsclients"), nil
}
