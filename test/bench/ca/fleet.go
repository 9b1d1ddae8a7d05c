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
	"loom.dev/loom/pkg/ca"
)

// fleetResult is the cold start of n agents against one CA.
type fleetResult struct {
	Agents     int       `json:"agents"`
	OK         int       `json:"ok"`
	Failed     int       `json:"failed"`  // no certificate within the timeout
	Retries    int       `json:"retries"` // failed requests that were tried again
	Alg        string    `json:"alg"`
	Mode       string    `json:"mode"`  // agents or raw (fleetMode)
	AllS       float64   `json:"all_s"` // start -> the last agent has its certificate
	P50S       float64   `json:"p50_s"`
	P99S       float64   `json:"p99_s"`
	CPU        cpuSample `json:"-"`
	PlaneCPUS  float64   `json:"plane_cpu_s"`
	APICPUS    float64   `json:"apiserver_etcd_cpu_s"`
	AgentsCPUS float64   `json:"agents_cpu_s"` // this process: key generation, CSRs, TLS, files
	FirstError string    `json:"first_error,omitempty"`
}

// fleetMode is how the cold start's agents are made.
type fleetMode string

const (
	// fleetAgents are in-process `loom agent`s (internal/agent.Run with Once): each
	// generates its key, makes its CSR, opens its own TLS connection, reads its token
	// file, and writes cert-chain.pem, key.pem and root-cert.pem.
	fleetAgents fleetMode = "agents"
	// fleetRaw are raw CSR clients with keys and CSRs made beforehand (not timed): each
	// opens its own TLS connection and sends its token and CSR as an agent does. The
	// measurement then holds what the CA does and not the agents' key generation, which
	// in a cluster happens on many nodes but here shares two cores with the CA.
	fleetRaw fleetMode = "raw"
)

// fleetCSRs are the raw clients' CSRs: agent i is ServiceAccount i mod len(ids).
func fleetCSRs(ids []identity, n int, alg agent.KeyAlgorithm) ([]csrRequest, error) {
	agentIDs := make([]identity, n)
	for i := range agentIDs {
		agentIDs[i] = ids[i%len(ids)]
	}
	return newCSRPool(agentIDs, ca.KeyAlgorithm(alg))
}

// fleetAttempts returns, for each of n agents (agent i is ServiceAccount i mod
// len(ids)), one attempt at its first certificate; raw clients send csrs.
func fleetAttempts(mode fleetMode, c *caTLS, ids []identity, csrs []csrRequest, n int, alg agent.KeyAlgorithm, dir string, timeout time.Duration) ([]func(context.Context) error, error) {
	attempts := make([]func(context.Context) error, n)
	if mode == fleetRaw {
		if len(csrs) != n {
			return nil, fmt.Errorf("raw fleet: %d CSRs for %d clients", len(csrs), n)
		}
		for i, r := range csrs {
			attempts[i] = func(ctx context.Context) error { return rawAgent(ctx, c, r, timeout) }
		}
		return attempts, nil
	}
	for i := range attempts {
		id := ids[i%len(ids)]
		out := filepath.Join(dir, fmt.Sprintf("agent-%d", i))
		if err := os.MkdirAll(out, 0o700); err != nil {
			return nil, err
		}
		opts := agent.Options{
			TrustDomain: trustDomain, Namespace: benchNamespace, ServiceAccount: id.serviceAccount,
			KeyAlgorithm: alg, CAAddress: c.addr, CARootFile: c.rootFile, CAServerName: caServerName,
			TokenFile: id.tokenFile, ClusterID: clusterID, CertTTL: 24 * time.Hour,
			// A throttled request waits as long as the whole fleet may take, so it shows
			// up as a long tail; a failed one is retried (retryDelay) and counted.
			RequestTimeout: timeout,
			OutputDir:      out, Once: true, Logger: logr.Discard(),
		}
		attempts[i] = func(ctx context.Context) error { return agent.Run(ctx, opts) }
	}
	return attempts, nil
}

// rawAgent is one first request of a raw CSR client: a new connection, the token read
// from its file as an agent reads it, the CSR.
func rawAgent(ctx context.Context, c *caTLS, r csrRequest, timeout time.Duration) error {
	token, err := os.ReadFile(r.id.tokenFile)
	if err != nil {
		return err
	}
	r.id.token = string(token)
	conn, err := c.dial()
	if err != nil {
		return err
	}
	defer func() { _ = conn.Close() }()
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	return createCertificate(ctx, conn, r)
}

// runFleet starts n agents at once (see fleetMode). An agent whose request fails starts
// again after retryDelay, as a real agent retries. It returns when every agent has its
// first certificate or the timeout has passed.
func runFleet(ctx context.Context, mode fleetMode, c *caTLS, ids []identity, csrs []csrRequest, n int, alg agent.KeyAlgorithm, dir string, timeout time.Duration, m cpuMeter) (fleetResult, error) {
	res := fleetResult{Agents: n, Alg: string(alg), Mode: string(mode)}
	attempts, err := fleetAttempts(mode, c, ids, csrs, n, alg, dir, timeout)
	if err != nil {
		return res, err
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
	for _, try := range attempts {
		wg.Go(func() {
			<-start
			for attempt := 1; ; attempt++ {
				err := try(ctx)
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
