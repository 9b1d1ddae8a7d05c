package discovery

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"
	metav1alpha1 "istio.io/api/meta/v1alpha1"

	"loom.dev/loom/pkg/model"
)

// Condition types and reasons Loom writes on the Istio objects it serves. Reconciled is
// the condition type Istio's distribution reporting writes.
const (
	ConditionAccepted   = "Accepted"
	ConditionReconciled = "Reconciled"

	ReasonAccepted         = "Accepted"
	ReasonInvalid          = "Invalid" // ReasonNotEnforced (events.go) for kinds Loom does not act on
	ReasonPartiallyInvalid = "PartiallyInvalid"
	ReasonProgrammed       = "Programmed"
	ReasonInProgress       = "InProgress"
	ReasonRejected         = "Rejected"
)

// viewConvergence is what the status of the objects a view depends on needs from a group of
// the view's proxies that run config generated from one model: which objects apply to them
// (from the current model), the generation of each in the model their config was generated
// from, and how many of them there are.
type viewConvergence struct {
	applies     map[model.ConfigRef]struct{}
	generations map[model.ConfigRef]int64 // nil: not known to run any config
	proxies     int                       // connected
	running     int                       // of them, running config generated from generations' model
	// rejections are the NACK messages of the proxies that reject their config, in node id
	// order.
	rejections []string
}

// proxyCounts is how far one object got: of the proxies it applies to, how many run a
// config generated from its current generation, and how many rejected their config.
type proxyCounts struct {
	total, programmed, rejected int
	firstRejection              string
}

// countProxies adds up, per object, the proxies of every view it applies to. generation is
// the object's current generation (what observedGeneration reports).
func countProxies(views []viewConvergence, generation func(model.ConfigRef) int64) map[model.ConfigRef]*proxyCounts {
	out := map[model.ConfigRef]*proxyCounts{}
	for _, v := range views {
		if v.proxies == 0 {
			continue
		}
		for ref := range v.applies {
			c := out[ref]
			if c == nil {
				c = &proxyCounts{}
				out[ref] = c
			}
			c.total += v.proxies
			if gen, ok := v.generations[ref]; ok && gen >= generation(ref) {
				c.programmed += v.running
			}
			c.rejected += len(v.rejections)
			if c.firstRejection == "" && len(v.rejections) > 0 {
				c.firstRejection = v.rejections[0]
			}
		}
	}
	return out
}

// maxMessage bounds a condition message: a NACK message can be long (Envoy lists every
// failing resource).
const maxMessage = 1024

// reconciledMessage is the Reconciled condition's message.
func reconciledMessage(c proxyCounts) string {
	msg := fmt.Sprintf("programmed on %d of %d proxies", c.programmed, c.total)
	if c.total == 1 {
		msg = fmt.Sprintf("programmed on %d of 1 proxy", c.programmed)
	}
	if c.rejected > 0 {
		msg += fmt.Sprintf("; %d rejected it: %s", c.rejected, c.firstRejection)
	}
	return truncate(msg, maxMessage)
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n-3] + "..."
}

// observedObject is an Istio object as the cache holds it.
type observedObject struct {
	ref             model.ConfigRef
	generation      int64
	resourceVersion string
	// enforced: Loom acts on the kind at all.
	enforced bool
	// tracked: the model follows which proxies the kind applies to (see model.ConfigsFor).
	tracked bool
	// actedOn: the current model holds the object (it was not left out as invalid).
	actedOn bool
	// status is the object's status now (nil if it has none or it does not decode).
	status *metav1alpha1.IstioStatus
}

// desiredStatus is the status Loom means the object to have: observedGeneration, Accepted
// (False with every problem of the current generation, field first, when there are any) and,
// for kinds whose proxies are followed and that the model acts on, Reconciled with the
// proxy counts. Transition times are kept from the current status while a condition's
// status does not change.
func desiredStatus(obj observedObject, problems []model.Problem, counts *proxyCounts, now time.Time) *metav1alpha1.IstioStatus {
	st := &metav1alpha1.IstioStatus{ObservedGeneration: obj.generation}
	accepted := &metav1alpha1.IstioCondition{Type: ConditionAccepted, Status: "True", Reason: ReasonAccepted,
		Message: "the configuration is valid"}
	if current := problemTexts(problems, obj.generation); len(current) > 0 {
		accepted.Status, accepted.Reason = "False", ReasonInvalid
		switch {
		case !obj.enforced:
			accepted.Reason = ReasonNotEnforced
		case obj.tracked && obj.actedOn:
			accepted.Reason = ReasonPartiallyInvalid
		}
		accepted.Message = truncate(strings.Join(current, "; "), maxMessage)
		if obj.tracked && obj.actedOn {
			accepted.Message = truncate("parts of it are skipped: "+accepted.Message, maxMessage)
		}
	}
	st.Conditions = append(st.Conditions, accepted)
	if obj.tracked && obj.actedOn {
		c := proxyCounts{}
		if counts != nil {
			c = *counts
		}
		reconciled := &metav1alpha1.IstioCondition{Type: ConditionReconciled, Status: "True", Reason: ReasonProgrammed,
			Message: reconciledMessage(c)}
		switch {
		case c.rejected > 0:
			reconciled.Status, reconciled.Reason = "False", ReasonRejected
		case c.programmed < c.total:
			reconciled.Status, reconciled.Reason = "False", ReasonInProgress
		}
		st.Conditions = append(st.Conditions, reconciled)
	}
	for _, c := range st.Conditions {
		c.ObservedGeneration = obj.generation
		c.LastTransitionTime = timestamppb.New(now)
		if prev := conditionOf(obj.status, c.Type); prev != nil && prev.GetStatus() == c.Status && prev.GetLastTransitionTime() != nil {
			c.LastTransitionTime = prev.GetLastTransitionTime()
		}
	}
	return st
}

// problemTexts renders the problems of one generation of an object ("field: message"), sorted;
// a problem without a generation counts for every one.
func problemTexts(problems []model.Problem, generation int64) []string {
	var out []string
	for _, p := range problems {
		if p.Meta.Generation != 0 && p.Meta.Generation != generation {
			continue
		}
		text := p.Message
		if p.Field != "" {
			text = p.Field + ": " + p.Message
		}
		if !slices.Contains(out, text) {
			out = append(out, text)
		}
	}
	slices.Sort(out)
	return out
}

func conditionOf(st *metav1alpha1.IstioStatus, typ string) *metav1alpha1.IstioCondition {
	for _, c := range st.GetConditions() {
		if c.GetType() == typ {
			return c
		}
	}
	return nil
}

// sameStatus says whether two statuses say the same: observedGeneration and each condition's
// type, status, reason, message and observedGeneration; times are ignored, so a status is
// not rewritten only to move a timestamp.
func sameStatus(a, b *metav1alpha1.IstioStatus) bool {
	if a.GetObservedGeneration() != b.GetObservedGeneration() || len(a.GetConditions()) != len(b.GetConditions()) {
		return false
	}
	for _, ca := range a.GetConditions() {
		cb := conditionOf(b, ca.GetType())
		if cb == nil || ca.GetStatus() != cb.GetStatus() || ca.GetReason() != cb.GetReason() ||
			ca.GetMessage() != cb.GetMessage() || ca.GetObservedGeneration() != cb.GetObservedGeneration() {
			return false
		}
	}
	return true
}
