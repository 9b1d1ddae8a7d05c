package meshca

import (
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

func TestRecordSignerExportsEveryExpiry(t *testing.T) {
	reg := prometheus.NewRegistry()
	m := newMetrics(reg)
	first, _ := newTestCA(t)
	m.recordSigner(first)
	want := first.Expiries()
	if len(want) != 2 {
		t.Fatalf("the test CA lists %d certificates, want the signing intermediate and the root", len(want))
	}
	for _, c := range want {
		if got := testutil.ToFloat64(m.expiry.WithLabelValues(c.Role, c.Name)); got != float64(c.NotAfter.Unix()) {
			t.Errorf("%s %s: expiry %v, want %d", c.Role, c.Name, got, c.NotAfter.Unix())
		}
	}
	if n, err := testutil.GatherAndCount(reg, "loom_ca_certificate_expiry_timestamp_seconds"); err != nil || n != 2 {
		t.Fatalf("%d expiry series registered (%v), want 2", n, err)
	}

	// A new signer replaces the old one's series: a rotated-out certificate is not reported.
	second, _ := newTestCA(t)
	m.recordSigner(second)
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	current := map[string]bool{}
	for _, c := range second.Expiries() {
		current[c.Name] = true
	}
	series := 0
	for _, f := range families {
		if f.GetName() != "loom_ca_certificate_expiry_timestamp_seconds" {
			continue
		}
		for _, metric := range f.GetMetric() {
			series++
			for _, l := range metric.GetLabel() {
				if l.GetName() == "name" && !current[l.GetValue()] {
					t.Errorf("%s is still reported after rotation", l.GetValue())
				}
			}
		}
	}
	if series != 2 {
		t.Errorf("%d expiry series after rotation, want 2", series)
	}
}
