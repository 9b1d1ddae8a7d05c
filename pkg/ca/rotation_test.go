package ca

import (
	"crypto/x509"
	"strings"
	"testing"
	"time"
)

func TestNextRotationStep(t *testing.T) {
	now := testNow
	root := &x509.Certificate{NotAfter: now.Add(2 * 365 * 24 * time.Hour)}
	year := 365 * 24 * time.Hour
	tests := []struct {
		name   string
		st     RotationState
		in     RotationInputs
		want   RotationStep
		reason string
	}{
		{"idle, far from expiry", RotationState{Root: root}, RotationInputs{Now: now, RenewBefore: year}, StepNone, ""},
		{"idle, requested", RotationState{Root: root}, RotationInputs{Now: now, RenewBefore: year, Requested: true}, StepBegin, "requested"},
		{"idle, within the renewal window", RotationState{Root: root}, RotationInputs{Now: now.Add(year + time.Hour), RenewBefore: year}, StepBegin, "within 8760h"},
		{"idle, exactly at the window", RotationState{Root: root}, RotationInputs{Now: now.Add(year), RenewBefore: year}, StepBegin, "expires at"},
		{"distributing, not acknowledged", RotationState{Phase: RotationDistributing, Root: root}, RotationInputs{Now: now, Requested: true}, StepNone, "waiting for every connected proxy"},
		{"distributing, acknowledged", RotationState{Phase: RotationDistributing, Root: root}, RotationInputs{Now: now, NewBundleAcknowledged: true}, StepSwitch, "every connected proxy"},
		{"retiring, too early", RotationState{Phase: RotationRetiring, Root: root, RetireAfter: now.Add(time.Minute)}, RotationInputs{Now: now, Requested: true}, StepNone, "stays trusted until"},
		{"retiring, due", RotationState{Phase: RotationRetiring, Root: root, RetireAfter: now}, RotationInputs{Now: now}, StepRetire, "can still be valid"},
		{"unknown phase", RotationState{Phase: "Sideways", Root: root}, RotationInputs{Now: now, Requested: true}, StepNone, `unknown rotation phase "Sideways"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, reason := NextRotationStep(tt.st, tt.in)
			if got != tt.want || !strings.Contains(reason, tt.reason) {
				t.Fatalf("NextRotationStep = %q (%q), want %q (containing %q)", got, reason, tt.want, tt.reason)
			}
		})
	}
}

func TestRetireAfterOutlivesEveryCertificateSigned(t *testing.T) {
	switched := testNow
	ttl := 24 * time.Hour
	// The last certificate the old signer can issue is signed just before the switch.
	lastNotAfter := switched.Add(ttl)
	if got := RetireAfter(switched, ttl); !got.After(lastNotAfter) {
		t.Fatalf("RetireAfter = %s, not after the last certificate's end %s", got, lastNotAfter)
	}
}
