// Package jaegerrun runs a real Jaeger v2 (`cmd/jaeger` v1.76.0, which `make jaeger` builds
// from the Go module proxy into bin/jaeger) on loopback for tests: in-memory storage, an
// OTLP/gRPC receiver, and the query API the tests read traces from.
package jaegerrun

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/util/wait"
)

// Jaeger is a running Jaeger.
type Jaeger struct {
	// OTLPAddr is the OTLP/gRPC receiver (plaintext), QueryAddr the query API; both host:port.
	OTLPAddr, QueryAddr string
	out                 *lockedBuffer
}

// Start runs the Jaeger binary at bin until the test ends and waits until its query API
// answers. A missing binary fails the test: tests that need Jaeger never skip.
func Start(t *testing.T, bin string) *Jaeger {
	t.Helper()
	bin, err := filepath.Abs(bin)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(bin); err != nil {
		t.Fatalf("Jaeger is missing (%v): run `make jaeger` to build it from the Go module proxy", err)
	}
	ports := make([]int, 4)
	for i := range ports {
		if ports[i], err = freePort(); err != nil {
			t.Fatal(err)
		}
	}
	addr := func(p int) string { return "127.0.0.1:" + strconv.Itoa(p) }
	j := &Jaeger{OTLPAddr: addr(ports[0]), QueryAddr: addr(ports[1]), out: &lockedBuffer{}}
	config := fmt.Sprintf(`service:
  extensions: [jaeger_storage, jaeger_query, healthcheckv2]
  pipelines:
    traces:
      receivers: [otlp]
      processors: [batch]
      exporters: [jaeger_storage_exporter]
  telemetry:
    metrics: {level: none}
    logs: {level: info}
extensions:
  healthcheckv2:
    use_v2: true
    http: {endpoint: %q}
  jaeger_storage:
    backends:
      memstore:
        memory: {max_traces: 10000}
  jaeger_query:
    storage: {traces: memstore}
    enable_tracing: false
    http: {endpoint: %q}
    grpc: {endpoint: %q}
receivers:
  otlp:
    protocols:
      grpc: {endpoint: %q}
processors:
  batch: {timeout: 200ms}
exporters:
  jaeger_storage_exporter:
    trace_storage: memstore
`, addr(ports[2]), j.QueryAddr, addr(ports[3]), j.OTLPAddr)
	path := filepath.Join(t.TempDir(), "jaeger.yaml")
	if err := os.WriteFile(path, []byte(config), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "--config", path)
	cmd.Stdout, cmd.Stderr = j.out, j.out
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	err = wait.PollUntilContextTimeout(context.Background(), 100*time.Millisecond, 60*time.Second, true, func(context.Context) (bool, error) {
		_, err := j.Traces("none")
		return err == nil, nil
	})
	if err != nil {
		t.Fatalf("Jaeger's query API at %s never answered:\n%s", j.QueryAddr, j.Log())
	}
	return j
}

// Log is what Jaeger has written so far.
func (j *Jaeger) Log() string { return j.out.String() }

// Trace is a trace as Jaeger's query API (/api/traces) returns it.
type Trace struct {
	TraceID   string             `json:"traceID"`
	Spans     []Span             `json:"spans"`
	Processes map[string]Process `json:"processes"`
}

// Process is the resource that sent a trace's spans.
type Process struct {
	ServiceName string `json:"serviceName"`
}

// Span is one span of a Trace.
type Span struct {
	SpanID        string `json:"spanID"`
	OperationName string `json:"operationName"`
	ProcessID     string `json:"processID"`
	StartTime     int64  `json:"startTime"` // microseconds since the epoch
	References    []struct {
		RefType string `json:"refType"`
		SpanID  string `json:"spanID"`
	} `json:"references"`
	Tags []struct {
		Key   string `json:"key"`
		Value any    `json:"value"`
	} `json:"tags"`
}

// Parent is the span's parent in its trace; empty for a root.
func (s Span) Parent() string {
	for _, r := range s.References {
		if r.RefType == "CHILD_OF" {
			return r.SpanID
		}
	}
	return ""
}

// FollowsFrom reports whether the span links to a span of another trace (an OpenTelemetry
// link).
func (s Span) FollowsFrom() bool {
	for _, r := range s.References {
		if r.RefType == "FOLLOWS_FROM" {
			return true
		}
	}
	return false
}

// Tag is the value of the span's attribute key; nil if it has none.
func (s Span) Tag(key string) any {
	for _, t := range s.Tags {
		if t.Key == key {
			return t.Value
		}
	}
	return nil
}

// Traces returns the service's recent traces (none for a service Jaeger has not seen).
func (j *Jaeger) Traces(service string) ([]Trace, error) {
	resp, err := http.Get("http://" + j.QueryAddr + "/api/traces?limit=200&lookback=1h&service=" + url.QueryEscape(service))
	if err != nil {
		return nil, err
	}
	defer func() { _ = resp.Body.Close() }()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode == http.StatusNotFound {
		return nil, nil
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET /api/traces: %s: %s", resp.Status, body)
	}
	var out struct {
		Data []Trace `json:"data"`
	}
	if err := json.Unmarshal(body, &out); err != nil {
		return nil, fmt.Errorf("GET /api/traces: %w", err)
	}
	return out.Data, nil
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer func() { _ = l.Close() }()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// lockedBuffer collects Jaeger's output while the test reads it.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
