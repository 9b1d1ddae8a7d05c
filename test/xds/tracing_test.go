package xds

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/util/wait"

	"loom.dev/loom/pkg/grpcbootstrap"
	"loom.dev/loom/pkg/xds"
	"loom.dev/loom/test/jaegerrun"
)

// TestConfigChangeTraceInJaeger runs a real Jaeger (v2, built by `make jaeger` from the module
// proxy) and a `loom discovery` that exports its traces to Jaeger's OTLP/gRPC receiver. A
// proxyless gRPC client is connected when a VirtualService changes; the change must show up in
// Jaeger's query API as one trace: the config change, with the per-view generation (and the
// translation inside it), the push and the wait for the client's ACK as its children.
func TestConfigChangeTraceInJaeger(t *testing.T) {
	jaeger := jaegerrun.Start(t, "../../bin/jaeger")
	traced := startTracedDiscovery(t, jaeger.OTLPAddr)

	ns := newNamespace(t)
	createService(t, ns, "traced", 8080)
	client := exec.Command(echoBin, "client", "--target", "xds:///traced."+ns+".svc.cluster.local:8080",
		"--duration", "5m", "--interval", "200ms", "--timeout", "500ms")
	doc, err := grpcbootstrap.Bootstrap(traced.xdsAddr, nodeID(ns, "traced-client"),
		map[string]any{"GENERATOR": "grpc", "NAMESPACE": ns, "LABELS": map[string]any{"app": "traced-client"}})
	if err != nil {
		t.Fatal(err)
	}
	client.Env = append(os.Environ(), grpcbootstrap.EnvConfig+"="+string(doc))
	client.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := client.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = client.Process.Kill(); _ = client.Wait() })
	waitConnected(t, traced.monitoringAddr)

	// Jaeger stores span start times in microseconds since the epoch; traces that began
	// before the change are someone else's.
	changedAt := time.Now().Add(-time.Millisecond).UnixMicro()
	apply(t, ns, `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: traced}
spec:
  hosts: [traced]
  http:
  - timeout: 7s
    route:
    - destination: {host: traced}
`)

	var last string
	err = wait.PollUntilContextTimeout(context.Background(), 500*time.Millisecond, 90*time.Second, true, func(context.Context) (bool, error) {
		traces, err := jaeger.Traces("loom-discovery")
		if err != nil {
			last = err.Error()
			return false, nil
		}
		var seen []string
		for _, tr := range traces {
			problem := checkConfigChangeTrace(tr, changedAt)
			if problem == "" {
				t.Logf("trace %s: %d spans %v", tr.TraceID, len(tr.Spans), spanNames(tr.Spans))
				return true, nil
			}
			seen = append(seen, problem)
		}
		last = fmt.Sprintf("%d traces: %s", len(traces), strings.Join(seen, "; "))
		return false, nil
	})
	if err != nil {
		log, _ := os.ReadFile(traced.logPath)
		t.Fatalf("no trace of the VirtualService change reached Jaeger: %s\ndiscovery log:\n%s\njaeger log:\n%s", last, lastChars(string(log), 3000), lastChars(jaeger.Log(), 3000))
	}
}

// checkConfigChangeTrace returns "" when tr is a config change that started after
// notBefore, was pushed and ACKed, with the expected span structure; else what is missing.
func checkConfigChangeTrace(tr jaegerrun.Trace, notBefore int64) string {
	byID := map[string]jaegerrun.Span{}
	children := map[string][]jaegerrun.Span{}
	var roots []jaegerrun.Span
	for _, s := range tr.Spans {
		byID[s.SpanID] = s
	}
	for _, s := range tr.Spans {
		parent := s.Parent()
		if _, ok := byID[parent]; !ok {
			roots = append(roots, s)
			continue
		}
		children[parent] = append(children[parent], s)
	}
	if len(roots) != 1 || roots[0].OperationName != xds.SpanConfigChange {
		return fmt.Sprintf("trace %s: not a config change (roots %v)", tr.TraceID, spanNames(roots))
	}
	root := roots[0]
	if root.StartTime < notBefore || root.Tag("loom.push.reason") != "trigger" {
		return fmt.Sprintf("trace %s: an earlier or non-trigger push (%v)", tr.TraceID, root.Tag("loom.push.reason"))
	}
	if got := root.Tag("loom.push.result"); got != "acked" {
		return fmt.Sprintf("trace %s: result %v, want acked", tr.TraceID, got)
	}
	if n, _ := strconv.Atoi(fmt.Sprint(root.Tag("loom.push.responses"))); n < 1 {
		return fmt.Sprintf("trace %s: %v responses, want at least 1", tr.TraceID, root.Tag("loom.push.responses"))
	}
	kids := children[root.SpanID]
	for _, want := range []string{xds.SpanDebounce, xds.SpanGenerate, xds.SpanPublish, xds.SpanConverge} {
		if !slices.Contains(spanNames(kids), want) {
			return fmt.Sprintf("trace %s: root's children %v lack %s", tr.TraceID, spanNames(kids), want)
		}
	}
	for _, k := range kids {
		if k.OperationName == xds.SpanPublish {
			if n, _ := strconv.Atoi(fmt.Sprint(k.Tag("loom.push.views_changed"))); n < 1 {
				return fmt.Sprintf("trace %s: the push changed no view", tr.TraceID)
			}
		}
		if k.OperationName != xds.SpanGenerate {
			continue
		}
		translated, modelBuild := false, k.FollowsFrom()
		for _, g := range children[k.SpanID] {
			translated = translated || (g.OperationName == "discovery.translate" && g.Tag("loom.view") == k.Tag("loom.view"))
			modelBuild = modelBuild || g.OperationName == "discovery.model_build"
		}
		if !modelBuild {
			return fmt.Sprintf("trace %s: %s of view %v neither built the model nor links to its build", tr.TraceID, xds.SpanGenerate, k.Tag("loom.view"))
		}
		if !translated {
			return fmt.Sprintf("trace %s: %s of view %v has children %v, want discovery.translate of the same view",
				tr.TraceID, xds.SpanGenerate, k.Tag("loom.view"), spanNames(children[k.SpanID]))
		}
	}
	return ""
}

func spanNames(spans []jaegerrun.Span) []string {
	out := make([]string, 0, len(spans))
	for _, s := range spans {
		out = append(out, s.OperationName)
	}
	slices.Sort(out)
	return out
}

func lastChars(s string, n int) string {
	if len(s) > n {
		return "..." + s[len(s)-n:]
	}
	return s
}

// waitConnected waits until a discovery at monitoringAddr has a connected proxy.
func waitConnected(t *testing.T, monitoringAddr string) {
	t.Helper()
	err := wait.PollUntilContextTimeout(context.Background(), 200*time.Millisecond, 60*time.Second, true, func(context.Context) (bool, error) {
		resp, err := http.Get("http://" + monitoringAddr + "/metrics")
		if err != nil {
			return false, nil
		}
		defer func() { _ = resp.Body.Close() }()
		for _, line := range strings.Split(readAll(resp), "\n") {
			if strings.HasPrefix(line, "loom_xds_connected_proxies") && !strings.HasSuffix(line, " 0") {
				return true, nil
			}
		}
		return false, nil
	})
	if err != nil {
		t.Fatalf("no proxy connected to the traced discovery at %s", monitoringAddr)
	}
}
