// Package tracing exports the control plane's and the operator's own OpenTelemetry
// traces over OTLP/gRPC (for example to the Jaeger add-on's collector port 4317).
// With no endpoint configured nothing is set up and callers get a nil tracer.
package tracing

import (
	"context"
	"fmt"
	"time"

	"github.com/spf13/pflag"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
)

// Options say where traces go; an empty Endpoint turns tracing off.
type Options struct {
	Endpoint    string  // host:port of an OTLP/gRPC receiver (plaintext)
	SampleRatio float64 // fraction of new traces kept, 0..1
}

// RegisterFlags adds --tracing-otlp-endpoint and --tracing-sample-ratio to f.
func RegisterFlags(f *pflag.FlagSet, o *Options) {
	f.StringVar(&o.Endpoint, "tracing-otlp-endpoint", "", "host:port of an OTLP/gRPC trace receiver (plaintext, e.g. the Jaeger add-on's port 4317); empty turns tracing of this process off")
	f.Float64Var(&o.SampleRatio, "tracing-sample-ratio", 1, "Fraction (0..1) of traces kept when --tracing-otlp-endpoint is set")
}

// Validate names the flag that is wrong.
func (o Options) Validate() error {
	if o.SampleRatio < 0 || o.SampleRatio > 1 {
		return fmt.Errorf("--tracing-sample-ratio: %v is not between 0 and 1", o.SampleRatio)
	}
	return nil
}

// Start sets up the exporter for service (its service.name) and returns the provider;
// Shutdown flushes the spans still buffered. With tracing off it returns nil.
func Start(ctx context.Context, o Options, service string) (*sdktrace.TracerProvider, error) {
	if o.Endpoint == "" {
		return nil, nil
	}
	if err := o.Validate(); err != nil {
		return nil, err
	}
	// The connection is made lazily: a collector that is not up yet only delays spans.
	exporter, err := otlptracegrpc.New(ctx, otlptracegrpc.WithEndpoint(o.Endpoint), otlptracegrpc.WithInsecure())
	if err != nil {
		return nil, fmt.Errorf("--tracing-otlp-endpoint %q: %w", o.Endpoint, err)
	}
	return sdktrace.NewTracerProvider(
		sdktrace.WithBatcher(exporter, sdktrace.WithBatchTimeout(time.Second)),
		sdktrace.WithSampler(sdktrace.ParentBased(sdktrace.TraceIDRatioBased(o.SampleRatio))),
		sdktrace.WithResource(resource.NewSchemaless(attribute.String("service.name", service))),
	), nil
}
