package main

import (
	"context"
	"fmt"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/connectivity"
)

// rateResult is the signing rate of one CA at one concurrency with one key algorithm.
type rateResult struct {
	Alg         string    `json:"alg"`
	Concurrency int       `json:"concurrency"`
	Certs       int       `json:"certs"` // verified certificates completed inside the window
	Errors      int       `json:"errors"`
	PerSecond   float64   `json:"certs_per_s"`
	P50Ms       float64   `json:"p50_ms"`
	P99Ms       float64   `json:"p99_ms"`
	CPU         cpuSample `json:"-"`
	PlaneCPUS   float64   `json:"plane_cpu_s"`
	APICPUS     float64   `json:"apiserver_etcd_cpu_s"`
	FirstError  string    `json:"first_error,omitempty"`
}

// planeMsPerCert is the control plane's CPU per certificate in the window.
func (r rateResult) planeMsPerCert() float64 {
	if r.Certs == 0 {
		return 0
	}
	return r.CPU.plane * 1000 / float64(r.Certs)
}

// rateWarmup runs before each window, uncounted, so that the window sees the steady state:
// rate limiters' bursts used up, caches and connections warm.
const rateWarmup = time.Second

// measureRate runs concurrency closed-loop callers, each on its own connection
// (connected before the window, so the window holds no TLS handshakes), for a warm-up and
// then window, and counts the certificates completed inside the window. Every call is TLS
// gRPC + TokenReview + sign on the server, with CSRs made beforehand.
func measureRate(ctx context.Context, c *caTLS, pool []csrRequest, alg string, concurrency int, window time.Duration, m cpuMeter) (rateResult, error) {
	res := rateResult{Alg: alg, Concurrency: concurrency}
	conns := make([]*grpc.ClientConn, concurrency)
	defer func() {
		for _, conn := range conns {
			if conn != nil {
				_ = conn.Close()
			}
		}
	}()
	for i := range conns {
		conn, err := c.dial()
		if err != nil {
			return res, err
		}
		conns[i] = conn
		if err := connect(ctx, conn, 10*time.Second); err != nil {
			return res, fmt.Errorf("CA %s: connection %d: %w", c.addr, i, err)
		}
	}

	var (
		mu        sync.Mutex
		latencies []float64
	)
	start := make(chan struct{})
	var wg sync.WaitGroup
	var t0, end time.Time
	for w, conn := range conns {
		wg.Go(func() {
			<-start
			for k := 0; time.Now().Before(end); k++ {
				r := pool[(w+k*concurrency)%len(pool)]
				callCtx, cancel := context.WithTimeout(ctx, 2*time.Minute)
				began := time.Now()
				err := createCertificate(callCtx, conn, r)
				done := time.Now()
				cancel()
				mu.Lock()
				switch {
				case err != nil:
					res.Errors++
					if res.FirstError == "" {
						res.FirstError = err.Error()
					}
				case !done.Before(t0) && done.Before(end):
					res.Certs++
					latencies = append(latencies, float64(done.Sub(began))/1e6)
				}
				mu.Unlock()
				if ctx.Err() != nil {
					return
				}
			}
		})
	}
	t0 = time.Now().Add(rateWarmup)
	end = t0.Add(window)
	close(start)
	time.Sleep(time.Until(t0))
	before := m.sample()
	time.Sleep(time.Until(end))
	res.CPU = m.sample().sub(before)
	wg.Wait() // the calls still in flight finish outside the window
	res.PerSecond = float64(res.Certs) / window.Seconds()
	res.P50Ms, res.P99Ms = pct(latencies, 50), pct(latencies, 99)
	res.PlaneCPUS, res.APICPUS = res.CPU.plane, res.CPU.apiserver
	return res, ctx.Err()
}

// connect makes conn finish its TLS handshake now.
func connect(ctx context.Context, conn *grpc.ClientConn, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	conn.Connect()
	for {
		s := conn.GetState()
		if s == connectivity.Ready {
			return nil
		}
		if !conn.WaitForStateChange(ctx, s) {
			return fmt.Errorf("not connected within %s (state %s)", timeout, s)
		}
	}
}
