package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"loom.dev/loom/pkg/grpcbootstrap"
	"loom.dev/loom/test/netns"
)

var binary string // built grpcecho

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "grpcecho-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binary = filepath.Join(dir, "grpcecho")
	build := exec.Command("go", "build", "-o", binary, ".")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintf(os.Stderr, "building grpcecho: %v\n", err)
		_ = os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	_ = os.RemoveAll(dir)
	os.Exit(code)
}

// syncBuffer collects a process's stderr.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

type proc struct {
	cmd    *exec.Cmd
	lines  chan string
	stderr *syncBuffer
	done   chan struct{}
	err    error
}

// baseEnv is the test's environment without any xDS bootstrap.
func baseEnv(extra ...string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, grpcbootstrap.EnvConfig+"=") || strings.HasPrefix(kv, grpcbootstrap.EnvFile+"=") {
			continue
		}
		env = append(env, kv)
	}
	return append(env, extra...)
}

// start runs grpcecho (inside host's namespace unless host is nil).
func start(t *testing.T, host *netns.Host, env []string, args ...string) *proc {
	t.Helper()
	var cmd *exec.Cmd
	if host != nil {
		cmd = host.Command(binary, args...)
	} else {
		cmd = exec.Command(binary, args...)
		cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	}
	cmd.Env = env
	p := &proc{cmd: cmd, lines: make(chan string, 1024), stderr: &syncBuffer{}, done: make(chan struct{})}
	cmd.Stderr = p.stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			p.lines <- sc.Text()
		}
		close(p.lines)
		p.err = cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		_ = p.stop(t)
		if t.Failed() {
			t.Logf("stderr of grpcecho %s:\n%s", strings.Join(args, " "), p.stderr.String())
		}
	})
	return p
}

// stop sends SIGTERM and waits (killing after 5 s); it returns the exit error.
func (p *proc) stop(t *testing.T) error {
	select {
	case <-p.done:
		return p.err
	default:
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(5 * time.Second):
		t.Errorf("grpcecho %v ignored SIGTERM", p.cmd.Args)
		_ = p.cmd.Process.Kill()
		<-p.done
	}
	return p.err
}

// next returns the next stdout line, failing after timeout.
func (p *proc) next(t *testing.T, timeout time.Duration) string {
	t.Helper()
	select {
	case l, ok := <-p.lines:
		if !ok {
			<-p.done
			t.Fatalf("grpcecho exited (%v) before printing; stderr:\n%s", p.err, p.stderr.String())
		}
		return l
	case <-time.After(timeout):
		t.Fatalf("no output from grpcecho %v after %v; stderr:\n%s", p.cmd.Args, timeout, p.stderr.String())
	}
	return ""
}

func startServer(t *testing.T, host *netns.Host, env []string, args ...string) *proc {
	t.Helper()
	p := start(t, host, env, append([]string{"server"}, args...)...)
	if l := p.next(t, 15*time.Second); !strings.HasPrefix(l, "READY ") {
		t.Fatalf("server printed %q, want READY <addr>", l)
	}
	return p
}

func runClientJSON(t *testing.T, env []string, args ...string) summary {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary, append([]string{"client"}, args...)...)
	cmd.Env = env
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("grpcecho client %v: %v\nstderr:\n%s", args, err, stderr.String())
	}
	var s summary
	if err := json.Unmarshal(out, &s); err != nil {
		t.Fatalf("client output %q: %v", out, err)
	}
	if bytes.Count(bytes.TrimSpace(out), []byte("\n")) != 0 {
		t.Fatalf("client printed more than one line: %q", out)
	}
	return s
}

func TestPlainServersInNamespaces(t *testing.T) {
	hosts := netns.Create(t, 2)
	env := baseEnv()
	startServer(t, hosts[0], env, "--name", "a", "--listen", hosts[0].Addr(8080))
	startServer(t, hosts[1], env, "--name", "b", "--listen", hosts[1].Addr(8080), "--fail-code", "Unavailable")
	a, b := hosts[0].Addr(8080), hosts[1].Addr(8080)

	s := runClientJSON(t, env, "--target", a, "--n", "20", "--concurrency", "4")
	if s.Total != 20 || s.OK != 20 || s.Backends["a"] != 20 || s.Codes["OK"] != 20 {
		t.Errorf("plain calls: %+v", s)
	}

	s = runClientJSON(t, env, "--target", a, "--n", "10", "--header", "x-fail-first-n=3", "--header", "x-fail-key=k1")
	if s.Total != 10 || s.OK != 7 || s.Codes["Unavailable"] != 3 || s.FailedBackends["a"] != 3 {
		t.Errorf("x-fail-first-n: %+v", s)
	}
	// The counter is per key: another key fails again.
	s = runClientJSON(t, env, "--target", a, "--n", "2", "--header", "x-fail-first-n=1", "--header", "x-fail-key=k2")
	if s.OK != 1 || s.Codes["Unavailable"] != 1 {
		t.Errorf("x-fail-first-n, second key: %+v", s)
	}

	s = runClientJSON(t, env, "--target", a, "--n", "2", "--header", "x-sleep=2s", "--timeout", "150ms")
	if s.Codes["DeadlineExceeded"] != 2 || s.LatencyMS["p50"] < 140 || s.LatencyMS["max"] > 1500 {
		t.Errorf("x-sleep past the deadline: %+v", s)
	}
	s = runClientJSON(t, env, "--target", a, "--n", "1", "--header", "x-sleep=200ms")
	if s.OK != 1 || s.LatencyMS["max"] < 190 {
		t.Errorf("x-sleep: %+v", s)
	}

	s = runClientJSON(t, env, "--target", a, "--n", "3", "--header", "x-fail-code=PERMISSION_DENIED")
	if s.Codes["PermissionDenied"] != 3 || s.FailedBackends["a"] != 3 {
		t.Errorf("x-fail-code: %+v", s)
	}

	s = runClientJSON(t, env, "--target", b, "--n", "3")
	if s.Codes["Unavailable"] != 3 || s.FailedBackends["b"] != 3 || s.OK != 0 {
		t.Errorf("--fail-code server: %+v", s)
	}

	s = runClientJSON(t, env, "--target", a, "--duration", "300ms", "--interval", "50ms")
	if s.Total < 3 || s.Total > 8 || s.OK != s.Total {
		t.Errorf("--duration 300ms --interval 50ms: %+v", s)
	}

	// Watch mode: one JSON line per call until SIGTERM, then exit 0.
	w := start(t, nil, env, "client", "--target", a, "--watch", "--interval", "20ms")
	for i := range 3 {
		line := w.next(t, 10*time.Second)
		var ev struct {
			T       string `json:"t"`
			Backend string `json:"backend"`
			Code    string `json:"code"`
		}
		if err := json.Unmarshal([]byte(line), &ev); err != nil {
			t.Fatalf("watch line %d %q: %v", i, line, err)
		}
		if _, err := time.Parse(time.RFC3339Nano, ev.T); err != nil || ev.Backend != "a" || ev.Code != "OK" {
			t.Fatalf("watch line %d: %q", i, line)
		}
	}
	if err := w.stop(t); err != nil {
		t.Fatalf("watch client after SIGTERM: %v", err)
	}
}

func xdsEnv(t *testing.T, cp *controlPlane, nodeID string) []string {
	t.Helper()
	bs, err := grpcbootstrap.Bootstrap(cp.Addr, nodeID, map[string]any{"test": t.Name()})
	if err != nil {
		t.Fatal(err)
	}
	return baseEnv(grpcbootstrap.EnvConfig + "=" + string(bs))
}

func TestXDSClientWeightedClusters(t *testing.T) {
	nw := netns.CreateNetwork(t, 2)
	a, b := nw.Hosts[0], nw.Hosts[1]
	const node = "grpcecho-test-client"
	cp := startControlPlane(t, nw.Gateway, node)
	startServer(t, a, baseEnv(), "--name", "a", "--listen", a.Addr(8080))
	startServer(t, b, baseEnv(), "--name", "b", "--listen", b.Addr(8080))

	const target = "xds:///echo.test:8080"
	lds, err := grpcbootstrap.ClientListenerName(target)
	if err != nil || lds != "echo.test:8080" {
		t.Fatalf("ClientListenerName = %q, %v", lds, err)
	}
	cp.Set(t,
		clientListener(t, lds, "echo-route"),
		weightedRoute("echo-route", map[string]uint32{"echo-a": 80, "echo-b": 20}),
		edsCluster("echo-a"), edsCluster("echo-b"),
		loadAssignment("echo-a", a.IP, 8080),
		loadAssignment("echo-b", b.IP, 8080),
	)
	env := xdsEnv(t, cp, node)

	s := runClientJSON(t, env, "--target", target, "--n", "1000", "--concurrency", "8")
	t.Logf("split: %+v", s)
	if s.Total != 1000 || s.OK != 1000 {
		t.Fatalf("not all calls succeeded: %+v (NACKs: %v)", s, cp.NACKs())
	}
	if s.Backends["a"] < 750 || s.Backends["a"] > 850 || s.Backends["b"] < 150 || s.Backends["b"] > 250 {
		t.Errorf("80/20 split landed at a=%d b=%d", s.Backends["a"], s.Backends["b"])
	}

	// The route's retry policy (unavailable, 3 retries) hides one injected
	// failure per backend: the server fails before sending headers.
	s = runClientJSON(t, env, "--target", target, "--n", "5", "--header", "x-fail-first-n=1", "--header", "x-fail-key=retry")
	if s.OK != 5 {
		t.Errorf("retry policy did not retry x-fail-first-n failures: %+v", s)
	}
	// Without retries (plain target) the first call fails.
	s = runClientJSON(t, baseEnv(), "--target", a.Addr(8080), "--n", "2", "--header", "x-fail-first-n=1", "--header", "x-fail-key=noretry")
	if s.OK != 1 || s.Codes["Unavailable"] != 1 {
		t.Errorf("plain target with x-fail-first-n=1: %+v", s)
	}

	// A routing change reaches a watching client: all traffic to b.
	w := start(t, nil, env, "client", "--target", target, "--watch", "--interval", "10ms")
	w.next(t, 10*time.Second)
	cp.Set(t,
		clientListener(t, lds, "echo-route"),
		weightedRoute("echo-route", map[string]uint32{"echo-b": 1}),
		edsCluster("echo-b"),
		loadAssignment("echo-b", b.IP, 8080),
	)
	// waitFor reads watch lines until n consecutive calls went to backend.
	// Every call must succeed, except that while a route switches to a
	// cluster the channel has not used before, gRPC-Go 1.85 fails a few
	// calls in a short window ("unknown cluster selected for RPC", or
	// "... has been removed" for the cluster switched away from); switching
	// allows up to 10 of those.
	waitFor := func(backend, what string, n int, switching bool) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		transient := 0
		for run := 0; run < n; {
			if time.Now().After(deadline) {
				t.Fatalf("%s: no run of %d calls to %s", what, n, backend)
			}
			var ev struct{ Backend, Code, Error string }
			line := w.next(t, 10*time.Second)
			if err := json.Unmarshal([]byte(line), &ev); err != nil {
				t.Fatalf("watch line %q: %v", line, err)
			}
			if ev.Code != "OK" {
				known := strings.Contains(ev.Error, "unknown cluster selected for RPC") || strings.Contains(ev.Error, "has been removed")
				if !switching || !known || transient >= 10 {
					t.Fatalf("%s: call failed: %s", what, line)
				}
				transient++
				t.Logf("%s: transient gRPC failure during the switch: %s", what, line)
				run = 0
				continue
			}
			if ev.Backend == backend {
				run++
			} else {
				run = 0
			}
		}
	}
	waitFor("b", "route change", 20, true)
	// Calls keep flowing on the cached config while the control plane is
	// down, and after it comes back on the same address; the client
	// resubscribes and sees the next change.
	cp.Stop()
	waitFor("b", "control plane down", 30, false)
	cp.Restart(t)
	waitFor("b", "control plane back", 10, false)
	cp.Set(t,
		clientListener(t, lds, "echo-route"),
		weightedRoute("echo-route", map[string]uint32{"echo-a": 1}),
		edsCluster("echo-a"),
		loadAssignment("echo-a", a.IP, 8080),
	)
	waitFor("a", "route change after the restart", 20, true)
	waitFor("a", "after the route change", 20, false)
	if err := w.stop(t); err != nil {
		t.Errorf("watch client after SIGTERM: %v", err)
	}
}

func TestXDSServerMode(t *testing.T) {
	nw := netns.CreateNetwork(t, 1)
	h := nw.Hosts[0]
	const node = "grpcecho-test-server"
	cp := startControlPlane(t, nw.Gateway, node)
	env := xdsEnv(t, cp, node)

	srv := start(t, h, env, "server", "--xds", "--name", "x", "--listen", h.Addr(8443))
	// No server Listener yet: not ready.
	select {
	case l, ok := <-srv.lines:
		t.Fatalf("xDS server printed %q (open=%v) before its Listener was served; stderr:\n%s", l, ok, srv.stderr.String())
	case <-time.After(500 * time.Millisecond):
	}
	name := grpcbootstrap.ServerListenerNameFor(h.IP, 8443)
	if name != "grpc/server?xds.resource.listening_address="+h.Addr(8443) {
		t.Fatalf("ServerListenerNameFor = %q", name)
	}
	cp.Set(t, serverListener(t, name, h.IP, 8443))
	if l := srv.next(t, 15*time.Second); l != "READY "+h.Addr(8443) {
		t.Fatalf("xDS server printed %q, want READY %s (NACKs: %v)", l, h.Addr(8443), cp.NACKs())
	}
	s := runClientJSON(t, baseEnv(), "--target", h.Addr(8443), "--n", "5")
	if s.OK != 5 || s.Backends["x"] != 5 {
		t.Errorf("calls to the xDS server: %+v", s)
	}
	if !strings.Contains(srv.stderr.String(), "SERVING") {
		t.Errorf("serving mode change not logged on stderr: %q", srv.stderr.String())
	}
	if err := srv.stop(t); err != nil {
		t.Errorf("xDS server after SIGTERM: %v", err)
	}
}
