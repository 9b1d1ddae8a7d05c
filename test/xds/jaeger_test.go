package xds

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
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

// jaegerProcess is a real Jaeger v2 (`cmd/jaeger`) on loopback with in-memory storage,
// receiving OTLP/gRPC and serving its query API.
type jaegerProcess struct {
	otlpAddr, queryAddr string
	out                 *lockedBuffer
}

// startJaeger runs bin/jaeger (`make jaeger` builds it) until the test ends. A missing
// binary fails the test: the tracing test never skips.
func startJaeger(t *testing.T) *jaegerProcess {
	t.Helper()
	bin, err := filepath.Abs("../../bin/jaeger")
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
	j := &jaegerProcess{otlpAddr: addr(ports[0]), queryAddr: addr(ports[1]), out: &lockedBuffer{}}
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
`, addr(ports[2]), j.queryAddr, addr(ports[3]), j.otlpAddr)
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
		_, err := j.traces("none")
		return err == nil, nil
	})
	if err != nil {
		t.Fatalf("jaeger's query API at %s never answered:\n%s", j.queryAddr, j.log())
	}
	return j
}

func (j *jaegerProcess) log() string { return j.out.String() }

// jaegerTrace is a trace as Jaeger's query API (/api/traces) returns it.
type jaegerTrace struct {
	TraceID string       `json:"traceID"`
	Spans   []jaegerSpan `json:"spans"`
}

type jaegerSpan struct {
	SpanID        string `json:"spanID"`
	OperationName string `json:"operationName"`
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

func (s jaegerSpan) parent() string {
	for _, r := range s.References {
		if r.RefType == "CHILD_OF" {
			return r.SpanID
		}
	}
	return ""
}

// followsFrom reports whether s links to a span of another trace (an OpenTelemetry link).
func (s jaegerSpan) followsFrom() bool {
	for _, r := range s.References {
		if r.RefType == "FOLLOWS_FROM" {
			return true
		}
	}
	return false
}

func (s jaegerSpan) tag(key string) any {
	for _, t := range s.Tags {
		if t.Key == key {
			return t.Value
		}
	}
	return nil
}

// traces returns the service's recent traces.
func (j *jaegerProcess) traces(service string) ([]jaegerTrace, error) {
	resp, err := http.Get("http://" + j.queryAddr + "/api/traces?limit=200&lookback=1h&service=" + url.QueryEscape(service))
	if err != nil {
		return nil, err
	}
	defer func() { _ = resp.Body.Close() }()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	// An unknown service is a 404 (or an empty list): the query API works, with no traces.
	if resp.StatusCode == http.StatusNotFound {
		return nil, nil
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET /api/traces: %s: %s", resp.Status, body)
	}
	var out struct {
		Data []jaegerTrace `json:"data"`
	}
	if err := json.Unmarshal(body, &out); err != nil {
		return nil, fmt.Errorf("GET /api/traces: %w", err)
	}
	return out.Data, nil
}

// tracedDiscovery is a second `loom discovery` beside the shared one, exporting traces.
type tracedDiscovery struct {
	xdsAddr, monitoringAddr, logPath string
}

// startTracedDiscovery runs `loom discovery` with --tracing-otlp-endpoint until the test
// ends. It writes no status (the shared instance does) and runs no CA or webhooks.
func startTracedDiscovery(t *testing.T, otlpEndpoint string) *tracedDiscovery {
	t.Helper()
	xdsPort, err := freePort()
	if err != nil {
		t.Fatal(err)
	}
	monPort, err := freePort()
	if err != nil {
		t.Fatal(err)
	}
	d := &tracedDiscovery{xdsAddr: "127.0.0.1:" + strconv.Itoa(xdsPort), monitoringAddr: "127.0.0.1:" + strconv.Itoa(monPort),
		logPath: filepath.Join(t.TempDir(), "discovery-traced.log")}
	logFile, err := os.Create(d.logPath)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = logFile.Close() }()
	cmd := exec.Command(loomBin, "discovery", "--kubeconfig", cluster.KubeconfigPath,
		"--xds-address", d.xdsAddr, "--monitoring-address", d.monitoringAddr, "--root-namespace", "istio-system",
		"--ca-mode", "None", "--write-status=false",
		"--tracing-otlp-endpoint", otlpEndpoint, "--tracing-sample-ratio", "1")
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	err = wait.PollUntilContextTimeout(context.Background(), 100*time.Millisecond, 60*time.Second, true, func(context.Context) (bool, error) {
		resp, err := http.Get("http://" + d.monitoringAddr + "/ready")
		if err != nil {
			return false, nil
		}
		_ = resp.Body.Close()
		return resp.StatusCode == http.StatusOK, nil
	})
	if err != nil {
		out, _ := os.ReadFile(d.logPath)
		t.Fatalf("traced discovery never became ready:\n%s", out)
	}
	return d
}

// lockedBuffer collects a process's output while the test reads it.
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

func readAll(resp *http.Response) string {
	body, _ := io.ReadAll(resp.Body)
	return string(body)
}
