package integration

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/trace/noop"
	"k8s.io/apimachinery/pkg/util/wait"

	"loom.dev/loom/controllers"
	"loom.dev/loom/internal/tracing"
	"loom.dev/loom/test/jaegerrun"
)

// TestReconcileTraceInJaeger points the operator's exporter (internal/tracing, as `loom
// operator --tracing-otlp-endpoint` sets it up) at a real Jaeger v2 (`make jaeger`) and
// creates a mesh: its reconcile must reach Jaeger's query API as a loom.reconcile root span
// of the service loom-operator, naming the MeshOperator.
func TestReconcileTraceInJaeger(t *testing.T) {
	jaeger := jaegerrun.Start(t, "../../bin/jaeger")
	provider, err := tracing.Start(t.Context(), tracing.Options{Endpoint: jaeger.OTLPAddr, SampleRatio: 1}, "loom-operator")
	if err != nil {
		t.Fatal(err)
	}
	// The operator runs in this process and traces through the global provider.
	otel.SetTracerProvider(provider)
	t.Cleanup(func() {
		otel.SetTracerProvider(noop.NewTracerProvider())
		_ = provider.Shutdown(context.Background())
	})

	// Jaeger's start times are microseconds since the epoch; earlier spans are not this mesh's.
	created := time.Now().Add(-time.Millisecond).UnixMicro()
	mesh := newMesh("traced")
	createMesh(t, mesh)
	waitReconciled(t, mesh.Name)

	var last string
	err = wait.PollUntilContextTimeout(t.Context(), 500*time.Millisecond, 60*time.Second, true, func(context.Context) (bool, error) {
		traces, err := jaeger.Traces("loom-operator")
		if err != nil {
			last = err.Error()
			return false, nil
		}
		var seen []string
		for _, tr := range traces {
			problem := checkReconcileTrace(tr, "MeshOperator", mesh.Name, created)
			if problem == "" {
				return true, nil
			}
			seen = append(seen, problem)
		}
		last = fmt.Sprintf("%d traces: %s", len(traces), strings.Join(seen, "; "))
		return false, nil
	})
	if err != nil {
		t.Fatalf("no reconcile of MeshOperator %s reached Jaeger: %s\njaeger log:\n%s", mesh.Name, last, lastChars(jaeger.Log(), 3000))
	}
}

// checkReconcileTrace returns "" when tr is one reconcile of the named object of kind that
// started at or after notBefore, sent by loom-operator; else what differs.
func checkReconcileTrace(tr jaegerrun.Trace, kind, name string, notBefore int64) string {
	var roots []jaegerrun.Span
	for _, s := range tr.Spans {
		if s.Parent() == "" {
			roots = append(roots, s)
		}
	}
	if len(roots) != 1 {
		return fmt.Sprintf("trace %s: %d root spans, want one", tr.TraceID, len(roots))
	}
	s := roots[0]
	namespace, _ := s.Tag("loom.namespace").(string) // a cluster-scoped object: empty
	switch {
	case s.OperationName != controllers.SpanReconcile:
		return fmt.Sprintf("trace %s: root span %s, want %s", tr.TraceID, s.OperationName, controllers.SpanReconcile)
	case tr.Processes[s.ProcessID].ServiceName != "loom-operator":
		return fmt.Sprintf("trace %s: service %q, want loom-operator", tr.TraceID, tr.Processes[s.ProcessID].ServiceName)
	case s.Tag("loom.kind") != kind || s.Tag("loom.name") != name || namespace != "":
		return fmt.Sprintf("trace %s: reconcile of %v %v/%v", tr.TraceID, s.Tag("loom.kind"), s.Tag("loom.namespace"), s.Tag("loom.name"))
	case s.StartTime < notBefore:
		return fmt.Sprintf("trace %s: started before the mesh was created", tr.TraceID)
	}
	return ""
}

func lastChars(s string, n int) string {
	if len(s) > n {
		return "..." + s[len(s)-n:]
	}
	return s
}
