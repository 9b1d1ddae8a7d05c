package controllers

import (
	"context"
	"errors"
	"testing"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace/noop"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
)

// A reconcile is one span through the global provider (the operator installs its exporter
// there), naming the object and carrying the reconcile's error.
func TestReconcileSpan(t *testing.T) {
	rec := tracetest.NewSpanRecorder()
	otel.SetTracerProvider(sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec)))
	t.Cleanup(func() { otel.SetTracerProvider(noop.NewTracerProvider()) })

	req := ctrl.Request{NamespacedName: types.NamespacedName{Name: "mesh"}}
	_, span := startReconcile(context.Background(), "MeshOperator", req)
	endReconcile(span, ctrl.Result{}, errors.New("apply failed"))

	ended := rec.Ended()
	if len(ended) != 1 || ended[0].Name() != SpanReconcile {
		t.Fatalf("got %d spans, want one %s", len(ended), SpanReconcile)
	}
	got := map[string]string{}
	for _, kv := range ended[0].Attributes() {
		got[string(kv.Key)] = kv.Value.String()
	}
	if got["loom.kind"] != "MeshOperator" || got["loom.name"] != "mesh" {
		t.Errorf("attributes %v, want kind MeshOperator and name mesh", got)
	}
	if ended[0].Status().Code != codes.Error || len(ended[0].Events()) != 1 {
		t.Errorf("status %v with %d events, want the error recorded", ended[0].Status(), len(ended[0].Events()))
	}
}
