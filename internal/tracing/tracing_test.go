package tracing

import (
	"context"
	"testing"

	"github.com/spf13/pflag"
)

func TestFlagsAndStart(t *testing.T) {
	var o Options
	f := pflag.NewFlagSet("test", pflag.ContinueOnError)
	RegisterFlags(f, &o)
	if err := f.Parse(nil); err != nil {
		t.Fatal(err)
	}
	if o.Endpoint != "" || o.SampleRatio != 1 {
		t.Fatalf("defaults %+v, want tracing off with ratio 1", o)
	}
	if p, err := Start(context.Background(), o, "svc"); p != nil || err != nil {
		t.Fatalf("with no endpoint: provider %v, error %v; want neither", p, err)
	}
	if err := f.Parse([]string{"--tracing-otlp-endpoint=127.0.0.1:4317", "--tracing-sample-ratio=1.5"}); err != nil {
		t.Fatal(err)
	}
	if _, err := Start(context.Background(), o, "svc"); err == nil {
		t.Fatal("a sample ratio of 1.5 was accepted")
	}
	o.SampleRatio = 0.5
	p, err := Start(context.Background(), o, "svc")
	if err != nil || p == nil {
		t.Fatalf("provider %v, error %v", p, err)
	}
	// Nothing listens there: shutdown must still return (the connection is lazy).
	ctx, cancel := context.WithTimeout(context.Background(), 5e9)
	defer cancel()
	_ = p.Shutdown(ctx)
}
