package ca

import (
	"crypto/x509"
	"fmt"
	"time"
)

// RotationPhase is where a rotation of the root stands.
type RotationPhase string

const (
	// RotationIdle: one root, which signs.
	RotationIdle RotationPhase = ""
	// RotationDistributing: a new root is in the trust bundle beside the old one, which
	// still signs, until every connected proxy has acknowledged the new bundle.
	RotationDistributing RotationPhase = "Distributing"
	// RotationRetiring: the new root signs; the old one stays in the trust bundle until no
	// certificate it signed can still be valid.
	RotationRetiring RotationPhase = "Retiring"
)

// RotationStep is what to do next about the root.
type RotationStep string

const (
	StepNone RotationStep = ""
	// StepBegin adds a new root (and its intermediate) to the trust bundle.
	StepBegin RotationStep = "Begin"
	// StepSwitch makes the new root's intermediate the signer.
	StepSwitch RotationStep = "Switch"
	// StepRetire drops the old root from the trust bundle.
	StepRetire RotationStep = "Retire"
)

// RotationState is what a CA remembers of a rotation.
type RotationState struct {
	Phase RotationPhase
	// Root is the root the signer chains to.
	Root *x509.Certificate
	// RetireAfter is when the old root leaves the bundle (phase Retiring).
	RetireAfter time.Time
}

// RotationInputs are what a decision looks at besides the state.
type RotationInputs struct {
	Now time.Time
	// Requested: a rotation was asked for and not acted on yet.
	Requested bool
	// RenewBefore: a rotation begins by itself when less than this is left of the root.
	RenewBefore time.Duration
	// NewBundleAcknowledged: every connected proxy holds the bundle with the new root.
	NewBundleAcknowledged bool
}

// NextRotationStep decides the next step of a root rotation and says why. A rotation
// begins when asked for or when the root nears its end, never while one runs.
func NextRotationStep(st RotationState, in RotationInputs) (RotationStep, string) {
	switch st.Phase {
	case RotationIdle:
		if in.Requested {
			return StepBegin, "a rotation of the root was requested"
		}
		if st.Root != nil && !in.Now.Before(st.Root.NotAfter.Add(-in.RenewBefore)) {
			return StepBegin, fmt.Sprintf("the root expires at %s, within %s", st.Root.NotAfter.UTC().Format(time.RFC3339), in.RenewBefore)
		}
		return StepNone, ""
	case RotationDistributing:
		if in.NewBundleAcknowledged {
			return StepSwitch, "every connected proxy holds the trust bundle with the new root"
		}
		return StepNone, "waiting for every connected proxy to acknowledge the trust bundle with the new root"
	case RotationRetiring:
		if !in.Now.Before(st.RetireAfter) {
			return StepRetire, "no certificate the old root signed can still be valid"
		}
		return StepNone, "the old root stays trusted until " + st.RetireAfter.UTC().Format(time.RFC3339)
	}
	return StepNone, fmt.Sprintf("unknown rotation phase %q", st.Phase)
}

// RetireAfter is when an old root may leave the trust bundle once its signer stopped
// signing at switched: every certificate it signed ends by switched+maxTTL (Sign cuts
// lifetimes to the TTL asked for, at most maxTTL); a tenth more covers clocks that differ.
func RetireAfter(switched time.Time, maxTTL time.Duration) time.Time {
	return switched.Add(maxTTL + maxTTL/10)
}
