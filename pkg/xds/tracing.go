package xds

import (
	"context"
	"sync"
	"time"

	"github.com/envoyproxy/go-control-plane/pkg/cache/types"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
)

// Span names of a traced push. The root span covers one config change from the first
// Trigger of its burst until every proxy it reached has answered (or ConvergenceTimeout).
const (
	SpanConfigChange = "loom.config_change"
	SpanDebounce     = "xds.debounce"
	SpanGenerate     = "xds.generate"
	SpanPublish      = "xds.push"
	SpanConverge     = "xds.converge"
)

// defaultTraceTimeout ends a push's trace when some proxy never answers.
const defaultTraceTimeout = 30 * time.Second

// ContextGenerator is a Generator that also generates under a context carrying the
// push's span, so that its own spans (model build, translation) join the push's trace.
type ContextGenerator interface {
	GenerateContext(ctx context.Context, key string) (map[string][]types.Resource, error)
}

// pushTrace holds the spans of one traced push. A nil *pushTrace is tracing off:
// every method is then a no-op that allocates nothing.
type pushTrace struct {
	tracer  trace.Tracer
	ctx     context.Context // carries root
	root    trace.Span
	timeout *time.Timer

	mu       sync.Mutex // published and finish may race (the timeout, the last ACK)
	ended    bool
	converge trace.Span // set by published, ended by finish
}

// startPushTrace opens the trace of a push whose burst began at triggered; nil when
// tracing is off.
func (s *Server) startPushTrace(reason string, seq uint64, triggered, start time.Time) *pushTrace {
	if s.tracer == nil {
		return nil
	}
	ctx, root := s.tracer.Start(context.Background(), SpanConfigChange, trace.WithTimestamp(triggered),
		trace.WithSpanKind(trace.SpanKindInternal),
		trace.WithAttributes(attribute.String("loom.push.reason", reason), attribute.Int64("loom.push.seq", int64(seq))))
	_, debounce := s.tracer.Start(ctx, SpanDebounce, trace.WithTimestamp(triggered))
	debounce.End(trace.WithTimestamp(start))
	return &pushTrace{tracer: s.tracer, ctx: ctx, root: root}
}

// generate calls the generator for one view under its own span.
func (t *pushTrace) generate(gen Generator, key string) (map[string][]types.Resource, error) {
	ctx, span := t.tracer.Start(t.ctx, SpanGenerate, trace.WithAttributes(attribute.String("loom.view", key)))
	defer span.End()
	res, err := recovering("generator", func() (map[string][]types.Resource, error) {
		if cg, ok := gen.(ContextGenerator); ok {
			return cg.GenerateContext(ctx, key)
		}
		return gen.Generate(key)
	})
	if err != nil {
		span.RecordError(err)
		span.SetStatus(codes.Error, "generate failed")
	}
	return res, err
}

// published records the publication of the push's snapshots (from the end of
// generation, genEnd, to now) and opens the wait for the proxies' answers. With
// awaiting false nothing waits for answers and the trace ends at once.
func (t *pushTrace) published(st *PushStatus, genEnd time.Time, awaiting bool, timeout time.Duration) {
	if t == nil {
		return
	}
	_, pub := t.tracer.Start(t.ctx, SpanPublish, trace.WithTimestamp(genEnd), trace.WithAttributes(
		attribute.Int("loom.push.views", st.Views),
		attribute.Int("loom.push.views_changed", st.ViewsChanged),
		attribute.Int("loom.push.generate_errors", st.GenerateErrors),
		attribute.Int("loom.push.streams_notified", st.StreamsNotified)))
	pub.End()
	t.mu.Lock()
	_, t.converge = t.tracer.Start(t.ctx, SpanConverge)
	if awaiting {
		t.timeout = time.AfterFunc(timeout, func() { t.finish("timeout", -1, time.Now()) })
	}
	t.mu.Unlock()
	if !awaiting {
		t.finish("nothing_sent", 0, time.Now())
	}
}

// finish ends the trace once: when every stream answered, or at the timeout.
// responses < 0 means unknown (timed out).
func (t *pushTrace) finish(result string, responses int64, at time.Time) {
	if t == nil {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.ended {
		return
	}
	t.ended = true
	if t.timeout != nil {
		t.timeout.Stop()
	}
	attrs := []attribute.KeyValue{attribute.String("loom.push.result", result)}
	if responses >= 0 {
		attrs = append(attrs, attribute.Int64("loom.push.responses", responses))
	}
	if t.converge != nil {
		t.converge.SetAttributes(attrs...)
		if result == "nacked" || result == "timeout" {
			t.converge.SetStatus(codes.Error, result)
		}
		t.converge.End(trace.WithTimestamp(at))
	}
	t.root.SetAttributes(attrs...)
	t.root.End(trace.WithTimestamp(at))
}
