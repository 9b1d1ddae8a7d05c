package discovery

import (
	"context"
	"testing"

	"github.com/go-logr/logr"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"loom.dev/loom/pkg/model"
	"loom.dev/loom/pkg/xds"
)

func tracingGenerator(t *testing.T) (*generator, string) {
	t.Helper()
	m := newMetrics(nil)
	snaps := &snapshots{current: model.Build(model.Input{})}
	g := &generator{ctx: context.Background(), snapshots: snaps, metrics: m, problems: newProblemLog(logr.Discard(), m),
		log: logr.Discard(), views: map[string]*viewState{}, warned: map[string]bool{}}
	key, err := g.ViewKey(node(t, "sidecar~10.1.0.1~web-1.web~web.svc.cluster.local", map[string]any{"LABELS": map[string]any{"app": "web"}}))
	if err != nil {
		t.Fatal(err)
	}
	return g, key
}

// The push's span reaches the translation: discovery.translate is its child, in its trace,
// for the view asked; the status-writing wrapper passes it on too.
func TestGenerateContextTranslatesUnderThePushSpan(t *testing.T) {
	g, key := tracingGenerator(t)
	rec := tracetest.NewSpanRecorder()
	tracer := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec)).Tracer("test")
	for _, gen := range []xds.ContextGenerator{g, newModelRecorder(g)} {
		rec.Reset()
		ctx, push := tracer.Start(context.Background(), xds.SpanGenerate)
		if _, err := gen.GenerateContext(ctx, key); err != nil {
			t.Fatal(err)
		}
		push.End()
		var found bool
		for _, s := range rec.Ended() {
			if s.Name() != spanTranslate {
				continue
			}
			found = true
			if s.Parent().SpanID() != push.SpanContext().SpanID() || s.SpanContext().TraceID() != push.SpanContext().TraceID() {
				t.Errorf("%T: %s is not a child of the push's span", gen, spanTranslate)
			}
			if got := s.Attributes()[0].Value.AsString(); got != key {
				t.Errorf("%T: translated view %q, want %q", gen, got, key)
			}
		}
		if !found {
			t.Errorf("%T: no %s span", gen, spanTranslate)
		}
	}
}

// A model built under a push's span is a child of it; one built outside any push gets a
// trace of its own only when tracing is on.
func TestModelBuildSpan(t *testing.T) {
	rec := tracetest.NewSpanRecorder()
	tracer := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec)).Tracer("test")
	s := &snapshots{}
	if _, span := s.startModelBuild(context.Background()); span != nil {
		t.Fatal("a model build span with tracing off")
	}
	s.tracer = tracer
	_, own := s.startModelBuild(context.Background())
	own.End()
	ctx, push := tracer.Start(context.Background(), xds.SpanGenerate)
	_, child := s.startModelBuild(ctx)
	child.End()
	push.End()
	ended := rec.Ended()
	if len(ended) != 3 || ended[0].Parent().IsValid() || ended[1].Parent().SpanID() != push.SpanContext().SpanID() {
		t.Fatalf("want a root model build, then one under the push; got %d spans", len(ended))
	}
}

// With tracing off the hooks on the generate path allocate nothing.
func TestNoTracingAllocatesNothing(t *testing.T) {
	ctx := context.Background()
	s := &snapshots{}
	allocs := testing.AllocsPerRun(100, func() {
		c := withSpanOf(ctx, ctx)
		endSpan(startSpan(c, spanTranslate, "view"))
		_, span := s.startModelBuild(c)
		endSpan(span)
	})
	if allocs != 0 {
		t.Fatalf("%v allocations with tracing off, want 0", allocs)
	}
}

// A push that uses a model built before it (by the modelRefresher) links to that build.
func TestGenerateLinksTheModelBuiltBeforeThePush(t *testing.T) {
	g, key := tracingGenerator(t)
	rec := tracetest.NewSpanRecorder()
	tracer := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec)).Tracer("test")
	_, build := tracer.Start(context.Background(), spanModelBuild)
	build.End()
	g.snapshots.builtBy = build.SpanContext()
	ctx, push := tracer.Start(context.Background(), xds.SpanGenerate)
	if _, err := g.GenerateContext(ctx, key); err != nil {
		t.Fatal(err)
	}
	push.End()
	for _, s := range rec.Ended() {
		if s.Name() != xds.SpanGenerate {
			continue
		}
		if links := s.Links(); len(links) != 1 || links[0].SpanContext.SpanID() != build.SpanContext().SpanID() {
			t.Fatalf("the push's span has links %v, want the model build's", links)
		}
		return
	}
	t.Fatal("no generate span ended")
}
