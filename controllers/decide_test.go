package controllers

import (
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	clocktesting "k8s.io/utils/clock/testing"

	operatorv1alpha1 "loom.dev/loom/api/v1alpha1"
)

const (
	timeout = 2 * time.Minute
	grace   = 10 * time.Minute
)

func testSpec(version string, strategy operatorv1alpha1.UpdateStrategyType) *operatorv1alpha1.MeshOperatorSpec {
	return &operatorv1alpha1.MeshOperatorSpec{Version: version, Namespace: "loom-system", UpdateStrategy: operatorv1alpha1.UpdateStrategy{
		Type: strategy, ReadinessTimeout: &metav1.Duration{Duration: timeout}, RevisionGracePeriod: &metav1.Duration{Duration: grace},
	}}
}

func emptyMemory() memory { return memory{revisions: map[string]*revisionRecord{}} }

// reconcileOnce runs prepare and decide as one reconcile does, at the clock's time.
func reconcileOnce(mem memory, gen int64, spec *operatorv1alpha1.MeshOperatorSpec, allReady bool, usage map[string]revisionUsage, now time.Time) outcome {
	rolledBack := mem.state.rolledBackAt(gen)
	target := spec
	if rolledBack {
		target = &mem.state.LastGood.Spec
	}
	mem = prepare(mem, gen, spec, target, rolledBack, now)
	obs := observation{generation: gen, spec: spec, rolledBack: rolledBack, allReady: allReady, usage: usage}
	if !allReady {
		obs.waiting = operatorv1alpha1.ComponentStatus{Name: controlPlaneComponent(target), Message: "0 of 1 pods ready"}
	}
	return decide(mem, obs, now)
}

func unused(names ...string) map[string]revisionUsage {
	u := map[string]revisionUsage{}
	for _, n := range names {
		u[n] = revisionUsage{}
	}
	return u
}

func TestRollbackAfterReadinessTimeout(t *testing.T) {
	clk := clocktesting.NewFakeClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	v1, v2 := testSpec("1.0.0", operatorv1alpha1.InPlace), testSpec("1.1.0", operatorv1alpha1.InPlace)
	mem := reconcileOnce(emptyMemory(), 1, v1, true, unused("default"), clk.Now()).memory

	for _, tc := range []struct {
		name         string
		after        time.Duration
		wantRollback bool
		wantRequeue  time.Duration
	}{
		{"just begun", 0, false, timeout},
		{"a moment before the timeout", timeout - time.Second, false, time.Second},
		{"at the timeout", timeout, true, time.Millisecond},
	} {
		t.Run(tc.name, func(t *testing.T) {
			started := reconcileOnce(mem, 2, v2, false, nil, clk.Now()).memory // the attempt begins
			out := reconcileOnce(started, 2, v2, false, nil, clk.Now().Add(tc.after))
			if got := out.rollBack != ""; got != tc.wantRollback {
				t.Fatalf("rolled back %v (%q), want %v", got, out.rollBack, tc.wantRollback)
			}
			if out.requeueAfter != tc.wantRequeue {
				t.Errorf("requeue after %s, want %s", out.requeueAfter, tc.wantRequeue)
			}
			if !tc.wantRollback {
				return
			}
			if !strings.Contains(out.rollBack, "generation 2 (version 1.1.0) was not Ready within 2m0s (control-plane: 0 of 1 pods ready); rolled back to generation 1 (version 1.0.0)") {
				t.Errorf("message %q", out.rollBack)
			}
			if !out.memory.state.rolledBackAt(2) {
				t.Error("the rollback is not remembered")
			}
		})
	}
}

func TestRolledBackGenerationIsNotRetriedUntilTheSpecChanges(t *testing.T) {
	clk := clocktesting.NewFakeClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	v1, v2 := testSpec("1.0.0", operatorv1alpha1.InPlace), testSpec("1.1.0", operatorv1alpha1.InPlace)
	mem := reconcileOnce(emptyMemory(), 1, v1, true, unused("default"), clk.Now()).memory
	mem = reconcileOnce(mem, 2, v2, false, nil, clk.Now()).memory
	clk.Step(timeout)
	mem = reconcileOnce(mem, 2, v2, false, nil, clk.Now()).memory
	if !mem.state.rolledBackAt(2) {
		t.Fatal("not rolled back")
	}

	// Later reconciles of generation 2 run the last good spec and decide nothing new.
	for _, ready := range []bool{true, false} {
		clk.Step(timeout)
		out := reconcileOnce(mem, 2, v2, ready, unused("default"), clk.Now())
		if out.rollBack != "" || out.memory.state.Attempt.Generation != 2 || !out.memory.state.rolledBackAt(2) {
			t.Errorf("ready %v: generation 2 tried again: %+v", ready, out.memory.state)
		}
		if got := out.memory.revisions["default"].Spec.Version; got != "1.0.0" {
			t.Errorf("ready %v: the revision runs %s, want the last good 1.0.0", ready, got)
		}
		if out.prune != ready {
			t.Errorf("ready %v: prune %v", ready, out.prune)
		}
	}

	// A new generation is an attempt of its own.
	v3 := testSpec("1.1.0", operatorv1alpha1.InPlace)
	v3.Profile = "minimal"
	out := reconcileOnce(mem, 3, v3, false, nil, clk.Now())
	if a := out.memory.state.Attempt; a == nil || a.Generation != 3 || !a.Started.Time.Equal(clk.Now()) {
		t.Errorf("attempt %+v, want generation 3 from now", a)
	}
	if out.memory.revisions["default"].Spec.Profile != "minimal" {
		t.Error("the new generation's spec is not the one run")
	}
}

func TestNothingToRollBackTo(t *testing.T) {
	clk := clocktesting.NewFakeClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	v1 := testSpec("1.0.0", operatorv1alpha1.InPlace)
	mem := reconcileOnce(emptyMemory(), 1, v1, false, nil, clk.Now()).memory
	out := reconcileOnce(mem, 1, v1, false, nil, clk.Now().Add(timeout))
	if out.rollBack != "" || out.unhealthy != "control-plane not Ready after 2m0s: 0 of 1 pods ready" {
		t.Errorf("rollBack %q, unhealthy %q", out.rollBack, out.unhealthy)
	}
}

// canary returns the memory after 1.0.0 became Ready and 1.1.0 started as a new revision.
func canary(t *testing.T, now time.Time) memory {
	t.Helper()
	mem := reconcileOnce(emptyMemory(), 1, testSpec("1.0.0", operatorv1alpha1.RevisionBased), true, unused("1-0-0"), now).memory
	mem = reconcileOnce(mem, 2, testSpec("1.1.0", operatorv1alpha1.RevisionBased), false, nil, now).memory
	if got := revisionNames((mem.revisions)); !slices.Equal(got, []string{"1-0-0", "1-1-0"}) {
		t.Fatalf("revisions %v", got)
	}
	if mem.revisions["1-0-0"].LastGoodSpecHash == "" || mem.revisions["1-1-0"].LastGoodSpecHash != "" {
		t.Fatalf("last good hashes: 1-0-0 %q, 1-1-0 %q", mem.revisions["1-0-0"].LastGoodSpecHash, mem.revisions["1-1-0"].LastGoodSpecHash)
	}
	return mem
}

func revisionNames(m map[string]*revisionRecord) []string {
	return slices.Sorted(maps.Keys(m))
}

func TestReadyCanaryIsPromoted(t *testing.T) {
	clk := clocktesting.NewFakeClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	v2 := testSpec("1.1.0", operatorv1alpha1.RevisionBased)
	mem := canary(t, clk.Now())
	clk.Step(time.Minute)
	out := reconcileOnce(mem, 2, v2, true, map[string]revisionUsage{"1-0-0": {Namespaces: 1}, "1-1-0": {}}, clk.Now())
	st := out.memory.state
	if st.LastGood == nil || st.LastGood.Generation != 2 || st.Attempt != nil || st.RolledBack != nil {
		t.Errorf("state after promotion %+v", st)
	}
	if got := out.memory.revisions["1-1-0"].LastGoodSpecHash; got != specHash(v2) {
		t.Errorf("new revision's last good hash %q, want %q", got, specHash(v2))
	}
	if old := out.memory.revisions["1-0-0"]; old == nil || old.UnusedSince != nil || old.Usage.Namespaces != 1 {
		t.Errorf("old revision in use: %+v", old)
	}
	if !out.prune || out.requeueAfter != revisionPoll {
		t.Errorf("prune %v, requeue %s; want a prune and a look again in %s", out.prune, out.requeueAfter, revisionPoll)
	}
}

func TestFailedCanaryDropsItsRevision(t *testing.T) {
	clk := clocktesting.NewFakeClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	mem := canary(t, clk.Now())
	clk.Step(timeout)
	out := reconcileOnce(mem, 2, testSpec("1.1.0", operatorv1alpha1.RevisionBased), false, nil, clk.Now())
	if out.rollBack == "" {
		t.Fatal("not rolled back")
	}
	if got := revisionNames(out.memory.revisions); !slices.Equal(got, []string{"1-0-0"}) {
		t.Errorf("revisions after the rollback %v, want only 1-0-0", got)
	}
}

func TestAbandonedCanaryIsNotKept(t *testing.T) {
	clk := clocktesting.NewFakeClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	mem := canary(t, clk.Now())
	// 1.1.0 never became Ready; the spec moves on to 1.2.0.
	out := reconcileOnce(mem, 3, testSpec("1.2.0", operatorv1alpha1.RevisionBased), false, nil, clk.Now())
	if got := revisionNames((out.memory.revisions)); !slices.Equal(got, []string{"1-0-0", "1-2-0"}) {
		t.Errorf("revisions %v, want the last good 1-0-0 and the new 1-2-0", got)
	}
}

func TestRetirementAfterTheGracePeriod(t *testing.T) {
	v2 := testSpec("1.1.0", operatorv1alpha1.RevisionBased)
	inUse := map[string]revisionUsage{"1-0-0": {Workloads: 2}, "1-1-0": {}}
	for _, tc := range []struct {
		name string
		// usage at each step; the clock advances by the step's duration first.
		steps       []time.Duration
		usage       []map[string]revisionUsage
		wantRetired bool
		wantRequeue time.Duration
	}{
		{"first seen unused", []time.Duration{0}, []map[string]revisionUsage{unused("1-0-0", "1-1-0")}, false, grace},
		{"a moment before the grace period", []time.Duration{0, grace - time.Nanosecond},
			[]map[string]revisionUsage{unused("1-0-0", "1-1-0"), unused("1-0-0", "1-1-0")}, false, time.Nanosecond},
		{"exactly the grace period", []time.Duration{0, grace},
			[]map[string]revisionUsage{unused("1-0-0", "1-1-0"), unused("1-0-0", "1-1-0")}, true, time.Millisecond},
		{"in use again at the end of the grace period", []time.Duration{0, grace},
			[]map[string]revisionUsage{unused("1-0-0", "1-1-0"), inUse}, false, revisionPoll},
		{"unused again after being used: the grace period starts over", []time.Duration{0, grace, grace},
			[]map[string]revisionUsage{unused("1-0-0", "1-1-0"), inUse, unused("1-0-0", "1-1-0")}, false, grace},
	} {
		t.Run(tc.name, func(t *testing.T) {
			clk := clocktesting.NewFakeClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
			mem := canary(t, clk.Now())
			var out outcome
			for i, step := range tc.steps {
				clk.Step(step)
				out = reconcileOnce(mem, 2, v2, true, tc.usage[i], clk.Now())
				mem = out.memory
			}
			_, kept := mem.revisions["1-0-0"]
			if retired := slices.Equal(out.retired, []string{"1-0-0"}); retired != tc.wantRetired || retired == kept {
				t.Errorf("retired %v, kept %v; want retired %v", out.retired, kept, tc.wantRetired)
			}
			if out.requeueAfter != tc.wantRequeue {
				t.Errorf("requeue after %s, want %s", out.requeueAfter, tc.wantRequeue)
			}
			if _, ok := mem.revisions["1-1-0"]; !ok {
				t.Error("the current revision was retired")
			}
		})
	}
}
