package xds

import (
	"fmt"
	"slices"
	"testing"
	"time"
)

// oneBackend starts one echo server behind service "echo" and returns its port.
func oneBackend(t *testing.T, ns string, args ...string) int {
	t.Helper()
	b := startBackend(t, network.Hosts[0], "echo-0", nil, args...)
	createService(t, ns, "echo", b.port, b)
	return b.port
}

func TestRetries(t *testing.T) {
	ns := newNamespace(t)
	port := oneBackend(t, ns)
	apply(t, ns, `
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: echo
spec:
  hosts: [echo]
  http:
  - route:
    - destination: {host: echo}
    retries:
      attempts: 3
      retryOn: unavailable
`)
	tgt := target(ns, "echo", port)
	// Each key fails twice before it succeeds: three attempts absorb that.
	s := runClient(t, ns, tgt, "--n", "1", "--wait-for-ready", "--header", "x-fail-first-n=2", "--header", "x-fail-key=a")
	if s.OK != 1 {
		t.Errorf("with 3 retries, 2 failures must be retried away: %+v", s)
	}
	s = runClient(t, ns, tgt, "--n", "1", "--wait-for-ready", "--header", "x-fail-first-n=5", "--header", "x-fail-key=b")
	if s.Codes["Unavailable"] != 1 {
		t.Errorf("5 failures exceed 1+3 attempts and must surface: %+v", s)
	}
}

func TestRouteTimeout(t *testing.T) {
	ns := newNamespace(t)
	port := oneBackend(t, ns)
	apply(t, ns, `
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: echo
spec:
  hosts: [echo]
  http:
  - route:
    - destination: {host: echo}
    timeout: 200ms
`)
	tgt := target(ns, "echo", port)
	if s := runClient(t, ns, tgt, "--n", "3", "--wait-for-ready", "--header", "x-sleep=2s"); s.Codes["DeadlineExceeded"] != 3 {
		t.Errorf("a 2s call must hit the 200ms route timeout: %+v", s)
	}
	if s := runClient(t, ns, tgt, "--n", "3", "--wait-for-ready", "--header", "x-sleep=10ms"); s.OK != 3 {
		t.Errorf("a 10ms call fits in the route timeout: %+v", s)
	}
}

func TestFaultAbortAndDelay(t *testing.T) {
	ns := newNamespace(t)
	port := oneBackend(t, ns)
	apply(t, ns, `
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: echo
spec:
  hosts: [echo]
  http:
  - match:
    - headers:
        x-fault: {exact: abort}
    fault:
      abort:
        grpcStatus: UNAVAILABLE
        percentage: {value: 50}
    route:
    - destination: {host: echo}
  - match:
    - headers:
        x-fault: {exact: delay}
    fault:
      delay:
        fixedDelay: 300ms
        percentage: {value: 100}
    route:
    - destination: {host: echo}
  - route:
    - destination: {host: echo}
`)
	tgt := target(ns, "echo", port)
	s := runClient(t, ns, tgt, "--n", "400", "--concurrency", "8", "--wait-for-ready", "--header", "x-fault=abort")
	if !within(s.Codes["Unavailable"], 400, 50, 10) || s.OK+s.Codes["Unavailable"] != 400 {
		t.Errorf("abort at 50%%: want about half Unavailable, got %+v", s)
	}
	s = runClient(t, ns, tgt, "--n", "3", "--wait-for-ready", "--header", "x-fault=delay", "--timeout", "100ms")
	if s.Codes["DeadlineExceeded"] != 3 {
		t.Errorf("a 300ms injected delay must outlast a 100ms deadline: %+v", s)
	}
}

func TestConsistentHashAffinity(t *testing.T) {
	ns := newNamespace(t)
	port := int(nextPort.Add(1))
	var backends []backend
	for i, h := range network.Hosts[:3] {
		backends = append(backends, startBackendOn(t, h, port, fmt.Sprintf("echo-%d", i), nil))
	}
	createService(t, ns, "echo", port, backends...)
	apply(t, ns, `
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata:
  name: echo
spec:
  host: echo
  trafficPolicy:
    loadBalancer:
      consistentHash:
        httpHeaderName: x-session
`)
	tgt := target(ns, "echo", port)
	seen := map[string]bool{}
	// The ring depends on the backends' addresses (the port differs from run
	// to run) and 3 hosts may own it unevenly, so enough sessions that all
	// landing on one host means no spreading, not bad luck.
	const sessions = 20
	for i := range sessions {
		session := fmt.Sprintf("session-%d", i)
		s := runClient(t, ns, tgt, "--n", "10", "--wait-for-ready", "--header", "x-session="+session)
		if len(s.Backends) != 1 || s.OK != 10 {
			t.Errorf("session %s must stick to one backend: %+v", session, s)
		}
		for b := range s.Backends {
			seen[b] = true
		}
	}
	if len(seen) < 2 {
		t.Errorf("%d sessions all hashed to %v: the hash is not spreading", sessions, seen)
	}
}

// TestOutlierEjection runs one client throughout, since ejection is each
// client's own state. Retries are off so the bad backend's errors show.
func TestOutlierEjection(t *testing.T) {
	ns := newNamespace(t)
	port := int(nextPort.Add(1))
	good := startBackendOn(t, network.Hosts[0], port, "echo-good", nil)
	bad := startBackendOn(t, network.Hosts[1], port, "echo-bad", nil, "--fail-code", "Unavailable")
	createService(t, ns, "echo", port, good, bad)
	apply(t, ns, `
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata:
  name: echo
spec:
  host: echo
  trafficPolicy:
    outlierDetection:
      consecutive5xxErrors: 3
      interval: 1s
      baseEjectionTime: 1m
      maxEjectionPercent: 100
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: echo
spec:
  hosts: [echo]
  http:
  - route:
    - destination: {host: echo}
    retries: {attempts: 0}
`)
	w := startWatcher(t, ns, target(ns, "echo", port))
	w.waitUntil(t, 30*time.Second, "a call failed by echo-bad", func(lines []watchLine) bool {
		return slices.ContainsFunc(lines, func(l watchLine) bool { return l.Backend == "echo-bad" && l.Code != "OK" })
	})
	// Round robin over both backends alternates; only ejection gives a long run of good answers.
	w.waitUntil(t, 15*time.Second, "50 calls in a row answered by echo-good", func(lines []watchLine) bool {
		run := 0
		for i := len(lines) - 1; i >= 0 && lines[i].Backend == "echo-good" && lines[i].Code == "OK"; i-- {
			run++
		}
		return run >= 50
	})
	ejected := time.Now()
	time.Sleep(time.Second)
	after := w.since(ejected)
	if len(after) < 10 {
		t.Fatalf("only %d calls in the second after ejection", len(after))
	}
	for _, l := range after {
		if l.Backend != "echo-good" || l.Code != "OK" {
			t.Fatalf("after ejection a call went to %q (%s)", l.Backend, l.Code)
		}
	}
}

func TestCircuitBreaker(t *testing.T) {
	ns := newNamespace(t)
	port := oneBackend(t, ns)
	apply(t, ns, `
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata:
  name: echo
spec:
  host: echo
  trafficPolicy:
    connectionPool:
      http:
        http2MaxRequests: 2
`)
	tgt := target(ns, "echo", port)
	s := runClient(t, ns, tgt, "--n", "40", "--concurrency", "10", "--wait-for-ready", "--header", "x-sleep=100ms")
	if s.Codes["Unavailable"] == 0 || s.OK == 0 {
		t.Errorf("with 10 concurrent calls and max 2 requests, some must be refused and some served: %+v", s)
	}
	for msg := range s.Errors {
		t.Logf("refused: %s", msg)
	}
}
