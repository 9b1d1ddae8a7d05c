package discovery

import (
	"context"

	"github.com/envoyproxy/go-control-plane/pkg/cache/types"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"
)

// Span names the discovery side adds under a traced push's xds.generate span (see
// xds.SpanConfigChange). A model built outside a push (by the modelRefresher, which often
// wins the race after a change) gets a trace of its own rooted at spanModelBuild.
const (
	spanModelBuild = "discovery.model_build"
	spanTranslate  = "discovery.translate"
)

// GenerateContext implements xds.ContextGenerator: the model build and the translation
// join the span in ctx, while cancellation still follows the generator's own context.
func (g *generator) GenerateContext(ctx context.Context, key string) (map[string][]types.Resource, error) {
	return g.generate(withSpanOf(g.ctx, ctx), key)
}

// GenerateContext implements xds.ContextGenerator (the promoted generator method would
// skip recording).
func (r *modelRecorder) GenerateContext(ctx context.Context, key string) (map[string][]types.Resource, error) {
	return r.generate(withSpanOf(r.ctx, ctx), key)
}

// withSpanOf returns base carrying the span of traced, or base itself when traced has none.
func withSpanOf(base, traced context.Context) context.Context {
	span := trace.SpanFromContext(traced)
	if !span.SpanContext().IsValid() {
		return base
	}
	return trace.ContextWithSpan(base, span)
}

// startSpan starts a child of the span recording in ctx; nil (and no allocation) when
// nothing records there.
func startSpan(ctx context.Context, name, view string) trace.Span {
	parent := trace.SpanFromContext(ctx)
	if !parent.IsRecording() {
		return nil
	}
	_, span := parent.TracerProvider().Tracer(tracerName).Start(ctx, name, trace.WithAttributes(attribute.String("loom.view", view)))
	return span
}

func endSpan(span trace.Span) {
	if span != nil {
		span.End()
	}
}

const tracerName = "loom.dev/loom/internal/discovery"

// startModelBuild opens the model build's span: a child of the push's span in ctx, or
// the root of a trace of its own when the build happens outside a push and tracing is on.
// s.mu is held.
func (s *snapshots) startModelBuild(ctx context.Context) (context.Context, trace.Span) {
	parent := trace.SpanFromContext(ctx)
	var span trace.Span
	switch {
	case parent.IsRecording():
		ctx, span = parent.TracerProvider().Tracer(tracerName).Start(ctx, spanModelBuild)
	case s.tracer != nil:
		ctx, span = s.tracer.Start(ctx, spanModelBuild)
	default:
		return ctx, nil
	}
	s.builtBy = span.SpanContext()
	return ctx, span
}

// linkModelBuild links the span recording in ctx to the span of the model build whose
// model it used, when that build ran outside it (the modelRefresher usually builds first):
// Jaeger shows the link as a FOLLOWS_FROM reference.
func (s *snapshots) linkModelBuild(ctx context.Context) {
	span := trace.SpanFromContext(ctx)
	if !span.IsRecording() {
		return
	}
	s.mu.Lock()
	built := s.builtBy
	s.mu.Unlock()
	if built.IsValid() && built.TraceID() != span.SpanContext().TraceID() {
		span.AddLink(trace.Link{SpanContext: built})
	}
}
