package xds

import (
	"bufio"
	"bytes"
	"encoding/json"
	"net/http"
	"net/url"
	"os/exec"
	"reflect"
	"slices"
	"sync"
	"testing"
	"time"
)

// watcher is a `grpcecho client --watch`: one line per RPC, kept in order.
type watcher struct {
	cmd   *exec.Cmd
	mu    sync.Mutex
	lines []watchLine
}

type watchLine struct {
	T       time.Time `json:"t"`
	Backend string    `json:"backend"`
	Code    string    `json:"code"`
}

func startWatcher(t *testing.T, ns, target string) *watcher {
	t.Helper()
	w := &watcher{cmd: exec.Command(echoBin, "client", "--target", target, "--watch", "--interval", "20ms", "--wait-for-ready")}
	w.cmd.Env = clientEnv(t, ns, "watcher")
	out, err := w.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := w.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = w.cmd.Process.Kill(); _ = w.cmd.Wait() })
	go func() {
		for sc := bufio.NewScanner(out); sc.Scan(); {
			var l watchLine
			if json.Unmarshal(sc.Bytes(), &l) == nil {
				w.mu.Lock()
				w.lines = append(w.lines, l)
				w.mu.Unlock()
			}
		}
	}()
	return w
}

// since returns the lines of RPCs that finished after t.
func (w *watcher) since(t time.Time) []watchLine {
	w.mu.Lock()
	defer w.mu.Unlock()
	var out []watchLine
	for _, l := range w.lines {
		if l.T.After(t) {
			out = append(out, l)
		}
	}
	return out
}

// waitFor waits until an RPC finished after start reached backend, and
// returns when it did.
func (w *watcher) waitFor(t *testing.T, start time.Time, backend string, timeout time.Duration) time.Time {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		for _, l := range w.since(start) {
			if l.Backend == backend && l.Code == "OK" {
				return l.T
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("no RPC reached %s within %s of the change; last lines: %v", backend, timeout, tail(w.since(start), 5))
	return time.Time{}
}

// waitUntil waits until cond holds for every line so far.
func (w *watcher) waitUntil(t *testing.T, timeout time.Duration, what string, cond func([]watchLine) bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		if cond(w.since(time.Time{})) {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("no %s within %s; last lines: %v", what, timeout, tail(w.since(time.Time{}), 5))
}

func tail(l []watchLine, n int) []watchLine {
	if len(l) > n {
		return l[len(l)-n:]
	}
	return l
}

func routeAllTo(t *testing.T, ns, subset string) {
	t.Helper()
	apply(t, ns, `
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: echo
spec:
  hosts: [echo]
  http:
  - route:
    - destination: {host: echo, subset: `+subset+`}
`)
}

// How fast a change arrives is measured by make bench-scale; here only that it
// arrives and that nothing goes to the old version after it did.
func TestVirtualServiceChangeFollowed(t *testing.T) {
	ns := newNamespace(t)
	port := twoVersions(t, ns)
	routeAllTo(t, ns, "v1")
	w := startWatcher(t, ns, target(ns, "echo", port))
	w.waitFor(t, time.Time{}, "echo-v1", 30*time.Second)

	changed := time.Now()
	routeAllTo(t, ns, "v2")
	reached := w.waitFor(t, changed, "echo-v2", 30*time.Second)
	t.Logf("the change reached the client after %s", reached.Sub(changed))
	time.Sleep(300 * time.Millisecond)
	for _, l := range w.since(reached.Add(100 * time.Millisecond)) {
		if l.Backend == "echo-v1" {
			t.Fatalf("after the switch an RPC still went to echo-v1 (%s)", l.Code)
		}
	}
}

func TestDiscoveryRestartKeepsTrafficFlowing(t *testing.T) {
	ns := newNamespace(t)
	port := twoVersions(t, ns)
	routeAllTo(t, ns, "v1")
	w := startWatcher(t, ns, target(ns, "echo", port))
	w.waitFor(t, time.Time{}, "echo-v1", 30*time.Second)

	before := configDump(t, watcherNode(ns))
	if len(before) == 0 {
		t.Fatal("the watcher holds no config before the restart")
	}
	killed := time.Now()
	plane.kill()
	time.Sleep(time.Second)
	down := w.since(killed)
	failed := 0
	for _, l := range down {
		if l.Code != "OK" || l.Backend != "echo-v1" {
			failed++
		}
	}
	if len(down) < 10 || failed > 0 {
		t.Errorf("with the control plane down, RPCs must keep flowing on the last config: %d RPCs, %d failed", len(down), failed)
	}
	if err := plane.start(); err != nil {
		t.Fatal(err)
	}
	// The client reconnects and is given the very same resources.
	deadline := time.Now().Add(30 * time.Second)
	for after := configDump(t, watcherNode(ns)); !reflect.DeepEqual(before, after); after = configDump(t, watcherNode(ns)) {
		if time.Now().After(deadline) {
			t.Fatalf("after the restart the client holds different config:\nbefore %v\nafter  %v", before, after)
		}
		time.Sleep(100 * time.Millisecond)
	}
	// The client resyncs: a change made after the restart reaches it.
	changed := time.Now()
	routeAllTo(t, ns, "v2")
	w.waitFor(t, changed, "echo-v2", 30*time.Second)
}

func watcherNode(ns string) string { return nodeID(ns, "watcher") }

// configDump returns the resources a node holds, as JSON strings by type URL,
// merged over its streams and sorted, from /debug/config_dump.
func configDump(t *testing.T, node string) map[string][]string {
	t.Helper()
	resp, err := http.Get("http://" + plane.monitoringAddr + "/debug/config_dump?proxy=" + url.QueryEscape(node))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = resp.Body.Close() }()
	var dump struct {
		Streams []struct {
			Types map[string]struct {
				Resources []json.RawMessage `json:"resources"`
			} `json:"types"`
		} `json:"streams"`
	}
	if resp.StatusCode != http.StatusOK {
		return nil
	}
	if err := json.NewDecoder(resp.Body).Decode(&dump); err != nil {
		t.Fatalf("config_dump: %v", err)
	}
	out := map[string][]string{}
	for _, stream := range dump.Streams {
		for typeURL, held := range stream.Types {
			for _, r := range held.Resources {
				var compact bytes.Buffer
				if err := json.Compact(&compact, r); err != nil {
					t.Fatal(err)
				}
				if s := compact.String(); !slices.Contains(out[typeURL], s) {
					out[typeURL] = append(out[typeURL], s)
				}
			}
		}
	}
	for _, l := range out {
		slices.Sort(l)
	}
	return out
}
