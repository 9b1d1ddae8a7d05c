package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/go-logr/logr"

	"loom.dev/loom/internal/agent"
)

// fleetResult is the cold start of n agents against one CA.
type fleetResult struct {
	Agents     int       `json:"agents"`
	OK         int       `json:"ok"`
	Failed     int       `json:"failed"`  // no certificate within the timeout
	Retries    int       `json:"retries"` // failed requests that were tried again
	Alg        string    `json:"alg"`
	AllS       float64   `json:"all_s"` // start -> the last agent has its certificate
	P50S       float64   `json:"p50_s"`
	P99S       float64   `json:"p99_s"`
	CPU        cpuSample `json:"-"`
	PlaneCPUS  float64   `json:"plane_cpu_s"`
	APICPUS    float64   `json:"apiserver_etcd_cpu_s"`
	AgentsCPUS float64   `json:"agents_cpu_s"` // this process: key generation, CSRs, TLS, files
	FirstError string    `json:"first_error,omitempty"`
}

// runFleet starts n in-process `loom agent`s (internal/agent.Run with Once) at once, agent
// i with ServiceAccount i mod len(ids); each generates its key, makes its CSR, opens its
// own TLS connection, reads its token file, and writes cert-chain.pem, key.pem and
// root-cert.pem. An agent whose request fails starts again after retryDelay, as a real
// agent retries. It returns when every agent has its first certificate or the timeout
// has passed.
func runFleet(ctx context.Context, c *caTLS, ids []identity, n int, alg agent.KeyAlgorithm, dir string, timeout time.Duration, m cpuMeter) (fleetResult, error) {
	res := fleetResult{Agents: n, Alg: string(alg)}
	opts := make([]agent.Options, n)
	for i := range opts {
		id := ids[i%len(ids)]
		out := filepath.Join(dir, fmt.Sprintf("agent-%d", i))
		if err := os.MkdirAll(out, 0o700); err != nil {
			return res, err
		}
		opts[i] = agent.Options{
			TrustDomain: trustDomain, Namespace: benchNamespace, ServiceAccount: id.serviceAccount,
			KeyAlgorithm: alg, CAAddress: c.addr, CARootFile: c.rootFile, CAServerName: caServerName,
			TokenFile: id.tokenFile, ClusterID: clusterID, CertTTL: 24 * time.Hour,
			// A throttled request waits as long as the whole fleet may take, so it shows
			// up as a long tail; a failed one is retried (retryDelay) and counted.
			RequestTimeout: timeout,
			OutputDir:      out, Once: true, Logger: logr.Discard(),
		}
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var (
		mu    sync.Mutex
		times []float64
		wg    sync.WaitGroup
	)
	start := make(chan struct{})
	var t0 time.Time
	for i := range opts {
		wg.Go(func() {
			<-start
			for attempt := 1; ; attempt++ {
				err := agent.Run(ctx, opts[i])
				took := time.Since(t0).Seconds()
				mu.Lock()
				switch {
				case err == nil:
					res.OK++
					times = append(times, took)
				case ctx.Err() != nil:
					res.Failed++
				default:
					res.Retries++
					if res.FirstError == "" {
						res.FirstError = err.Error()
					}
				}
				mu.Unlock()
				if err == nil || ctx.Err() != nil {
					return
				}
				select {
				case <-ctx.Done():
				case <-time.After(retryDelay(attempt)):
				}
			}
		})
	}
	before := m.sample()
	t0 = time.Now()
	close(start)
	wg.Wait()
	res.CPU = m.sample().sub(before)
	res.AllS = pct(times, 100)
	res.P50S, res.P99S = pct(times, 50), pct(times, 99)
	res.PlaneCPUS, res.APICPUS, res.AgentsCPUS = res.CPU.plane, res.CPU.apiserver, res.CPU.self
	if res.Failed > 0 {
		return res, fmt.Errorf("%d of %d agents got no certificate within %s; first error: %s", res.Failed, n, timeout, res.FirstError)
	}
	return res, nil
}

// retryDelay is what `loom agent` (and pilot-agent) wait after a failed first request:
// 1s, 2s, 4s, ... up to 2 minutes, plus up to 10% jitter.
func retryDelay(attempt int) time.Duration {
	d := agent.DefaultBackoff.Initial << min(attempt-1, 16)
	d = min(d, agent.DefaultBackoff.Max)
	return d + rand.N(d/10+1)
}
