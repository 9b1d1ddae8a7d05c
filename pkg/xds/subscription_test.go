package xds

import (
	"slices"
	"testing"
)

func TestSubscriptionSotwRules(t *testing.T) {
	var s subscription
	steps := []struct {
		names     []string
		wildcard  bool
		added     []string
		addedWild bool
		count     int
	}{
		{nil, true, nil, true, 0},  // legacy wildcard
		{nil, true, nil, false, 0}, // still legacy wildcard, nothing new
		{[]string{"*", "a"}, true, []string{"a"}, false, 1},
		{[]string{"*", "a"}, true, nil, false, 1}, // same list again
		{[]string{"a"}, false, nil, false, 1},     // wildcard dropped
		{[]string{"a", "b"}, false, []string{"b"}, false, 2},
		{nil, false, nil, false, 0},                               // explicit before: empty unsubscribes all
		{[]string{"a", "b"}, false, []string{"a", "b"}, false, 2}, // same list as before the empty one: all new
		{[]string{"*"}, true, nil, true, 0},
	}
	for i, st := range steps {
		in := s.applySotw(st.names)
		if s.wildcard != st.wildcard || !slices.Equal(in.added, st.added) || in.wildcard != st.addedWild || s.count() != st.count {
			t.Fatalf("step %d %v: wildcard=%v added=%v addedWild=%v count=%d; want %v %v %v %d",
				i, st.names, s.wildcard, in.added, in.wildcard, s.count(), st.wildcard, st.added, st.addedWild, st.count)
		}
	}
}

func TestSubscriptionDeltaRules(t *testing.T) {
	var s subscription
	if in := s.applyDelta(nil, nil, true); !s.wildcard || !in.wildcard {
		t.Fatal("empty first delta request is not a legacy wildcard")
	}
	if in := s.applyDelta([]string{"a"}, nil, false); !s.wildcard || !slices.Equal(in.added, []string{"a"}) {
		t.Fatalf("subscribe a under wildcard: %v %v", s.wildcard, in.added)
	}
	// Unsubscribing a while the wildcard stays on must be answered.
	if in := s.applyDelta(nil, []string{"a"}, false); !slices.Equal(in.added, []string{"a"}) {
		t.Fatalf("unsubscribe a under wildcard: %v", in.added)
	}
	s.applyDelta([]string{"b"}, nil, false)
	// Dropping the wildcard and b together: nothing to answer.
	if in := s.applyDelta(nil, []string{"b", "*"}, false); s.wildcard || !in.empty() || s.count() != 0 {
		t.Fatalf("unsubscribe b and *: wildcard=%v added=%v count=%d", s.wildcard, in.added, s.count())
	}
	// Empty is not wildcard any more.
	if in := s.applyDelta(nil, nil, false); s.wildcard || !in.empty() {
		t.Fatal("empty request after explicit names became a wildcard")
	}
	var e subscription
	if e.applyDelta([]string{"x"}, nil, true); e.wildcard || e.count() != 1 {
		t.Fatal("first request with names is not explicit")
	}
}
