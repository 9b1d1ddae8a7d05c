package controllers

import (
	"context"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
	ctrl "sigs.k8s.io/controller-runtime"
)

// SpanReconcile names the span of one reconcile; the operator exports it when
// --tracing-otlp-endpoint is set (through the global provider; a no-op otherwise).
const SpanReconcile = "loom.reconcile"

const tracerName = "loom.dev/loom/controllers"

// startReconcile opens the span of one reconcile of kind; end it with endReconcile.
func startReconcile(ctx context.Context, kind string, req ctrl.Request) (context.Context, trace.Span) {
	return otel.Tracer(tracerName).Start(ctx, SpanReconcile, trace.WithAttributes(
		attribute.String("loom.kind", kind),
		attribute.String("loom.namespace", req.Namespace),
		attribute.String("loom.name", req.Name)))
}

// endReconcile records the reconcile's outcome on span and ends it.
func endReconcile(span trace.Span, res ctrl.Result, err error) {
	if !span.IsRecording() {
		span.End()
		return
	}
	if err != nil {
		span.RecordError(err)
		span.SetStatus(codes.Error, "reconcile failed")
	}
	if res.RequeueAfter > 0 {
		span.SetAttributes(attribute.String("loom.requeue_after", res.RequeueAfter.String()))
	}
	span.End()
}
