package agent

import (
	"crypto/x509"
	"testing"
	"time"
)

func TestAgentNextRenewal(t *testing.T) {
	issued := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	cert := &x509.Certificate{NotBefore: issued, NotAfter: issued.Add(24 * time.Hour)}
	halfLife := issued.Add(12 * time.Hour)
	b := Backoff{Initial: time.Second, Max: 90 * time.Second}
	tests := []struct {
		name     string
		cert     *x509.Certificate
		now      time.Time
		failures int
		want     time.Time
	}{
		{"no certificate yet: ask now", nil, issued, 0, issued},
		{"fresh certificate: half its lifetime", cert, issued, 0, halfLife},
		{"later in the first half: still half-life", cert, issued.Add(11 * time.Hour), 0, halfLife},
		{"half-life passed: after the first backoff step, not in a busy loop", cert, halfLife.Add(time.Minute), 0, halfLife.Add(time.Minute + time.Second)},
		{"half-spent on arrival: after the first backoff step", &x509.Certificate{NotBefore: issued, NotAfter: issued.Add(time.Second)}, issued, 0, issued.Add(time.Second)},
		{"first failure, no certificate: 1s", nil, issued, 1, issued.Add(time.Second)},
		{"first failure while valid: 1s", cert, halfLife, 1, halfLife.Add(time.Second)},
		{"second failure: 2s", cert, halfLife, 2, halfLife.Add(2 * time.Second)},
		{"fifth failure: 16s", cert, halfLife, 5, halfLife.Add(16 * time.Second)},
		{"seventh failure: 64s", cert, halfLife, 7, halfLife.Add(64 * time.Second)},
		{"eighth failure: capped at 90s", cert, halfLife, 8, halfLife.Add(90 * time.Second)},
		{"thousandth failure: capped, no overflow", cert, halfLife, 1000, halfLife.Add(90 * time.Second)},
		{"expired certificate: retries go on at the cap", cert, issued.Add(30 * time.Hour), 50, issued.Add(30*time.Hour + 90*time.Second)},
		{"expired certificate, first failure: 1s", cert, issued.Add(30 * time.Hour), 1, issued.Add(30*time.Hour + time.Second)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := nextRenewal(tt.cert, tt.now, tt.failures, b); !got.Equal(tt.want) {
				t.Errorf("nextRenewal(now=%s, failures=%d) = %s, want %s", tt.now, tt.failures, got, tt.want)
			}
		})
	}
}

func TestAgentBackoffDelay(t *testing.T) {
	b := Backoff{Initial: 500 * time.Millisecond, Max: 3 * time.Second}
	want := []time.Duration{500 * time.Millisecond, time.Second, 2 * time.Second, 3 * time.Second, 3 * time.Second}
	for i, w := range want {
		if got := b.delay(i + 1); got != w {
			t.Errorf("delay(%d) = %s, want %s", i+1, got, w)
		}
	}
}
