package controllers

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"maps"
	"sort"
	"time"

	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	operatorv1alpha1 "loom.dev/loom/api/v1alpha1"
)

// memory is what the operator remembers of a mesh: the rollback state (kept in the state
// ConfigMap) and the revisions that run (kept in MeshRevision objects, by revision name).
type memory struct {
	state     meshState
	revisions map[string]*revisionRecord
}

// revisionRecord is what the operator knows of one control-plane revision.
type revisionRecord struct {
	Spec operatorv1alpha1.MeshOperatorSpec
	// LastGoodSpecHash is the hash of the newest spec under which the revision was Ready;
	// empty while it never was.
	LastGoodSpecHash string
	// UnusedSince is when a retained revision was first seen unused.
	UnusedSince *metav1.Time
	// Usage is what was last seen using the revision; nil until looked at.
	Usage *revisionUsage
}

// revisionUsage counts the namespaces and workload pods that select a revision.
type revisionUsage struct {
	Namespaces, Workloads int32
}

func (u revisionUsage) inUse() bool { return u.Namespaces > 0 || u.Workloads > 0 }

func (m memory) clone() memory {
	out := memory{state: *m.state.deepCopy(), revisions: make(map[string]*revisionRecord, len(m.revisions))}
	for name, rec := range m.revisions {
		c := *rec
		c.Spec = *rec.Spec.DeepCopy()
		if rec.UnusedSince != nil {
			c.UnusedSince = rec.UnusedSince.DeepCopy()
		}
		if rec.Usage != nil {
			u := *rec.Usage
			c.Usage = &u
		}
		out.revisions[name] = &c
	}
	return out
}

// retained are the revisions other than current that keep running, by name.
func (m memory) retained(current string) []string {
	var names []string
	for name := range m.revisions {
		if name != current {
			names = append(names, name)
		}
	}
	sort.Strings(names)
	return names
}

// prepare is the decision before a rollout: the spec to run is target (the MeshOperator's, or
// the last good one after a rollback). A new generation starts an attempt, and a
// revision-based one keeps the last good revision running beside the new one. The target's
// revision is recorded as current; a revision that is neither current nor was ever Ready (an
// abandoned attempt) is dropped.
func prepare(mem memory, gen int64, spec, target *operatorv1alpha1.MeshOperatorSpec, rolledBack bool, now time.Time) memory {
	next := mem.clone()
	if !rolledBack && next.state.startAttempt(gen, now) {
		if lg := next.state.LastGood; lg != nil && spec.UpdateStrategy.Type == operatorv1alpha1.RevisionBased &&
			revisionName(&lg.Spec) != revisionName(spec) {
			next.revisions[revisionName(&lg.Spec)] = &revisionRecord{Spec: *lg.Spec.DeepCopy(), LastGoodSpecHash: specHash(&lg.Spec)}
		}
	}
	current := revisionName(target)
	for name, rec := range next.revisions {
		if name != current && rec.LastGoodSpecHash == "" {
			delete(next.revisions, name)
		}
	}
	rec := next.revisions[current]
	if rec == nil {
		rec = &revisionRecord{}
		next.revisions[current] = rec
	}
	rec.Spec = *target.DeepCopy()
	rec.UnusedSince = nil // only a retained revision is retired
	return next
}

// observation is what one reconcile saw after rolling out the target spec.
type observation struct {
	generation int64
	spec       *operatorv1alpha1.MeshOperatorSpec
	rolledBack bool
	allReady   bool
	// waiting is the first component not Ready, when not allReady.
	waiting operatorv1alpha1.ComponentStatus
	// usage of each revision, looked at only when allReady.
	usage map[string]revisionUsage
}

// outcome is what the operator does next.
type outcome struct {
	memory memory
	// prune removes the components no longer planned.
	prune bool
	// rollBack, when set, explains the rollback decided now.
	rollBack string
	// unhealthy, when set, explains a failure with nothing to roll back to.
	unhealthy    string
	retired      []string
	requeueAfter time.Duration
}

// decide is the decision after a rollout: promote a Ready generation, roll back one not
// Ready within the readiness timeout, retire revisions unused for the grace period.
func decide(mem memory, obs observation, now time.Time) outcome {
	out := outcome{memory: mem.clone()}
	next := &out.memory
	st := &next.state
	target := obs.spec
	if obs.rolledBack {
		target = &st.LastGood.Spec
	}
	current := revisionName(target)
	for name, u := range obs.usage {
		if rec := next.revisions[name]; rec != nil {
			rec.Usage = &u
		}
	}
	switch {
	case obs.rolledBack:
		// What only the failed generation had goes once the last good spec is Ready again.
		if obs.allReady {
			out.prune = true
			next.markGood(current, target)
		}
	case obs.allReady:
		// Components the spec no longer lists go once the rest is Ready.
		out.prune = true
		st.LastGood = &specAt{Generation: obs.generation, Spec: *obs.spec.DeepCopy()}
		st.Attempt, st.RolledBack = nil, nil
		next.markGood(current, obs.spec)
		out.retired, out.requeueAfter = next.retire(current, obs.usage, revisionGracePeriod(obs.spec), now)
		if len(out.retired) > 0 {
			out.requeueAfter = time.Millisecond // prune what was retired
		}
	case st.Attempt == nil:
		// The last good generation became unready (a node failed, say): nothing to roll back.
	default:
		timeout := readinessTimeout(obs.spec)
		if elapsed := now.Sub(st.Attempt.Started.Time); elapsed < timeout {
			out.requeueAfter = timeout - elapsed
			break
		}
		w := obs.waiting
		if st.LastGood == nil {
			out.unhealthy = fmt.Sprintf("%s not Ready after %s: %s", w.Name, timeout, w.Message)
			break
		}
		out.rollBack = fmt.Sprintf("generation %d (version %s) was not Ready within %s (%s: %s); rolled back to generation %d (version %s)",
			obs.generation, obs.spec.Version, timeout, w.Name, w.Message, st.LastGood.Generation, st.LastGood.Spec.Version)
		st.RolledBack = &rollback{Generation: obs.generation, Message: out.rollBack}
		if failed := revisionName(obs.spec); failed != revisionName(&st.LastGood.Spec) {
			delete(next.revisions, failed)
		}
		out.requeueAfter = time.Millisecond // apply the last good spec right away
	}
	return out
}

// retire drops the retained revisions unused for the grace period and returns them, with
// when to look again (0: never).
func (m *memory) retire(current string, usage map[string]revisionUsage, grace time.Duration, now time.Time) ([]string, time.Duration) {
	var retired []string
	var next time.Duration
	for _, name := range m.retained(current) {
		rec := m.revisions[name]
		u, seen := usage[name]
		switch {
		case !seen:
			next = minPositive(next, revisionPoll)
		case u.inUse():
			rec.UnusedSince = nil
			next = minPositive(next, revisionPoll)
		case rec.UnusedSince == nil:
			rec.UnusedSince = &metav1.Time{Time: now}
			next = minPositive(next, grace)
		case now.Sub(rec.UnusedSince.Time) >= grace:
			delete(m.revisions, name)
			retired = append(retired, name)
		default:
			next = minPositive(next, grace-now.Sub(rec.UnusedSince.Time))
		}
	}
	return retired, next
}

// revisionPoll is how often a revision in use is checked again: namespace and pod labels
// are not watched.
const revisionPoll = 5 * time.Second

func minPositive(a, b time.Duration) time.Duration {
	if a == 0 || b < a {
		return b
	}
	return a
}

func readinessTimeout(spec *operatorv1alpha1.MeshOperatorSpec) time.Duration {
	if t := spec.UpdateStrategy.ReadinessTimeout; t != nil && t.Duration > 0 {
		return t.Duration
	}
	return 5 * time.Minute
}

func revisionGracePeriod(spec *operatorv1alpha1.MeshOperatorSpec) time.Duration {
	if g := spec.UpdateStrategy.RevisionGracePeriod; g != nil {
		return g.Duration
	}
	return time.Hour
}

// markGood records that a revision is Ready under spec.
func (m *memory) markGood(name string, spec *operatorv1alpha1.MeshOperatorSpec) {
	if rec := m.revisions[name]; rec != nil {
		rec.LastGoodSpecHash = specHash(spec)
	}
}

// stateChanged tells whether the rollback state differs from before's.
func (m memory) stateChanged(before memory) bool {
	return !equality.Semantic.DeepEqual(m.state, before.state)
}

// revisionsChanged tells whether the revisions differ from before's.
func (m memory) revisionsChanged(before memory) bool {
	return !maps.EqualFunc(m.revisions, before.revisions, func(a, b *revisionRecord) bool { return equality.Semantic.DeepEqual(a, b) })
}

// specHash identifies a spec: a MeshRevision's spec.specHash and status.lastGoodSpecHash.
func specHash(spec *operatorv1alpha1.MeshOperatorSpec) string {
	data, err := json.Marshal(spec)
	if err != nil {
		data = []byte(err.Error()) // raw values from the apiserver are valid JSON: not reached
	}
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:8])
}
