package main

import (
	"strings"
	"testing"
)

func TestParseSample(t *testing.T) {
	text := `# HELP go_goroutines Number of goroutines that currently exist.
# TYPE go_goroutines gauge
go_goroutines 123
process_resident_memory_bytes 1.048576e+08
loom_xds_views 7
loom_xds_connected_proxies{stream="delta"} 2
loom_xds_connected_proxies{stream="sotw"} 40
loom_xds_views_other 99
`
	s, err := parseSample(strings.NewReader(text))
	if err != nil {
		t.Fatal(err)
	}
	if s.goroutines != 123 || s.rss != 100<<20 || s.views != 7 || s.proxies != 42 || s.problems != 0 {
		t.Fatalf("parsed %+v", s)
	}
	if _, err := parseSample(strings.NewReader("loom_xds_views 1\n")); err == nil || !strings.Contains(err.Error(), "process_resident_memory_bytes") {
		t.Fatalf("missing RSS: err %v, want one naming the metric", err)
	}
}

func TestBoundsCheck(t *testing.T) {
	b := bounds{rssGrowth: 0.5, goroutineGrowth: 0.2, goroutineSlack: 50}
	base := sample{rss: 100 << 20, goroutines: 200}
	if got := b.check(base, sample{rss: 150 << 20, goroutines: 290}); got != nil {
		t.Fatalf("within bounds: %v", got)
	}
	got := b.check(base, sample{rss: 151 << 20, goroutines: 291})
	if len(got) != 2 || !strings.Contains(got[0], "RSS") || !strings.Contains(got[1], "goroutines") {
		t.Fatalf("beyond both bounds: %v", got)
	}
}
