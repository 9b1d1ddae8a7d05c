package xds

import (
	"slices"
	"testing"
	"time"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
)

func withTracer(rec *tracetest.SpanRecorder, timeout time.Duration) envOpt {
	return func(o *Options) {
		o.Tracer = sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec)).Tracer("test")
		o.TraceTimeout = timeout
	}
}

// endedRoots returns the ended config-change spans of Trigger pushes.
func endedRoots(rec *tracetest.SpanRecorder) []sdktrace.ReadOnlySpan {
	var out []sdktrace.ReadOnlySpan
	for _, s := range rec.Ended() {
		if s.Name() == SpanConfigChange && attr(s, "loom.push.reason") == "trigger" {
			out = append(out, s)
		}
	}
	return out
}

func attr(s sdktrace.ReadOnlySpan, key string) string {
	for _, kv := range s.Attributes() {
		if string(kv.Key) == key {
			return kv.Value.String()
		}
	}
	return ""
}

// A traced push is one trace: debounce, one generate span per view, the push and the
// wait for answers, and its root ends only once the last proxy ACKed.
func TestPushTraceEndsAtLastACK(t *testing.T) {
	rec := tracetest.NewSpanRecorder()
	e := startEnv(t, true, withTracer(rec, time.Minute))
	e.gen.set("a", cdsType, clusters(2, 0)...)
	e.gen.set("b", cdsType, clusters(1, 0)...)
	ca, cb := e.sotw("proxy-a", "a"), e.sotw("proxy-b", "b")
	ca.request(cdsType)
	cb.request(cdsType)
	ca.ack(ca.recv())
	cb.ack(cb.recv())

	e.gen.set("a", cdsType, clusters(2, 1)...)
	e.gen.set("b", cdsType, clusters(1, 1)...)
	e.trigger()
	ra, rb := ca.recv(), cb.recv()
	ca.ack(ra)
	time.Sleep(50 * time.Millisecond) // the push must still wait for proxy-b
	if got := endedRoots(rec); len(got) != 0 {
		t.Fatalf("the push's trace ended (result %s) before the last proxy answered", attr(got[0], "loom.push.result"))
	}
	cb.ack(rb)
	waitFor(t, "the push's trace to end", func() bool { return len(endedRoots(rec)) == 1 })

	root := endedRoots(rec)[0]
	if got := attr(root, "loom.push.result"); got != "acked" {
		t.Errorf("result %q, want acked", got)
	}
	if got := attr(root, "loom.push.responses"); got != "2" {
		t.Errorf("responses %s, want 2", got)
	}
	var kids []string
	var views []string
	for _, s := range rec.Ended() {
		if s.Parent().SpanID() != root.SpanContext().SpanID() {
			continue
		}
		if s.SpanContext().TraceID() != root.SpanContext().TraceID() {
			t.Fatalf("%s is in another trace", s.Name())
		}
		kids = append(kids, s.Name())
		if s.Name() == SpanGenerate {
			views = append(views, attr(s, "loom.view"))
		}
		if s.EndTime().After(root.EndTime()) {
			t.Errorf("%s ends after its root", s.Name())
		}
	}
	slices.Sort(kids)
	slices.Sort(views)
	if want := []string{SpanConverge, SpanDebounce, SpanGenerate, SpanGenerate, SpanPublish}; !slices.Equal(kids, want) {
		t.Errorf("root's children %v, want %v", kids, want)
	}
	if !slices.Equal(views, []string{"a", "b"}) {
		t.Errorf("generated views %v, want [a b]", views)
	}
}

// A proxy that never answers does not keep the trace open forever.
func TestPushTraceTimesOut(t *testing.T) {
	rec := tracetest.NewSpanRecorder()
	e := startEnv(t, true, withTracer(rec, 50*time.Millisecond))
	e.gen.set("a", cdsType, clusters(1, 0)...)
	c := e.sotw("proxy-a", "a")
	c.request(cdsType)
	c.ack(c.recv())
	e.gen.set("a", cdsType, clusters(1, 1)...)
	e.trigger()
	c.recv() // and no ACK
	waitFor(t, "the trace to time out", func() bool { return len(endedRoots(rec)) == 1 })
	if got := attr(endedRoots(rec)[0], "loom.push.result"); got != "timeout" {
		t.Fatalf("result %q, want timeout", got)
	}
}

// With tracing off, the hooks on the push path cost nothing.
func TestNoTracingAllocatesNothing(t *testing.T) {
	s := NewServer(Options{Generator: newTestGen()})
	st := &PushStatus{}
	now := time.Now()
	allocs := testing.AllocsPerRun(100, func() {
		tr := s.startPushTrace("trigger", 1, now, now)
		tr.published(st, now, true, time.Second)
		tr.finish("acked", 1, now)
	})
	if allocs != 0 {
		t.Fatalf("%v allocations per push with tracing off, want 0", allocs)
	}
}
