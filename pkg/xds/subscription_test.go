package xds

import (
	"slices"
	"testing"
	"unsafe"
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
		in := s.applySotw(st.names, nil)
		if s.wildcard != st.wildcard || !slices.Equal(in.added, st.added) || in.wildcard != st.addedWild || s.count() != st.count {
			t.Fatalf("step %d %v: wildcard=%v added=%v addedWild=%v count=%d; want %v %v %v %d",
				i, st.names, s.wildcard, in.added, in.wildcard, s.count(), st.wildcard, st.added, st.addedWild, st.count)
		}
	}
}

func TestSubscriptionDeltaRules(t *testing.T) {
	var s subscription
	if in := s.applyDelta(nil, nil, true, nil); !s.wildcard || !in.wildcard {
		t.Fatal("empty first delta request is not a legacy wildcard")
	}
	if in := s.applyDelta([]string{"a"}, nil, false, nil); !s.wildcard || !slices.Equal(in.added, []string{"a"}) {
		t.Fatalf("subscribe a under wildcard: %v %v", s.wildcard, in.added)
	}
	// Unsubscribing a while the wildcard stays on must be answered.
	if in := s.applyDelta(nil, []string{"a"}, false, nil); !slices.Equal(in.added, []string{"a"}) {
		t.Fatalf("unsubscribe a under wildcard: %v", in.added)
	}
	s.applyDelta([]string{"b"}, nil, false, nil)
	// Dropping the wildcard and b together: nothing to answer.
	if in := s.applyDelta(nil, []string{"b", "*"}, false, nil); s.wildcard || !in.empty() || s.count() != 0 {
		t.Fatalf("unsubscribe b and *: wildcard=%v added=%v count=%d", s.wildcard, in.added, s.count())
	}
	// Empty is not wildcard any more.
	if in := s.applyDelta(nil, nil, false, nil); s.wildcard || !in.empty() {
		t.Fatal("empty request after explicit names became a wildcard")
	}
	var e subscription
	if e.applyDelta([]string{"x"}, nil, true, nil); e.wildcard || e.count() != 1 {
		t.Fatal("first request with names is not explicit")
	}
}

// Subscriptions keep the snapshot's own name strings, not each request's
// copies, so thousands of streams share one copy of each name.
func TestSubscriptionKeepsTheSnapshotsNameStrings(t *testing.T) {
	set := namedSet("a.svc", "b.svc")
	same := func(a, b string) bool { return unsafe.StringData(a) == unsafe.StringData(b) }
	fresh := func(s string) string { return string([]byte(s)) }

	var s subscription
	s.applySotw([]string{fresh("a.svc"), fresh("b.svc"), "c.svc"}, set)
	for n := range s.names {
		if r := set.byName[n]; r != nil && !same(n, r.name) {
			t.Errorf("sotw subscription keeps its own copy of %q", n)
		}
	}
	for _, n := range s.last[:2] {
		if !same(n, set.byName[n].name) {
			t.Errorf("sotw request list keeps its own copy of %q", n)
		}
	}
	var d subscription
	d.applyDelta([]string{fresh("b.svc")}, nil, true, set)
	for n := range d.names {
		if !same(n, set.byName["b.svc"].name) {
			t.Errorf("delta subscription keeps its own copy of %q", n)
		}
	}
}

// A subscription to every name of the set shares the set's name map; a
// delta change to it must not write into the shared map.
func TestSubscriptionToEverythingSharesTheSetsNames(t *testing.T) {
	set := namedSet("a", "b")
	var s subscription
	s.applySotw([]string{"b", "a"}, set)
	if !s.shared {
		t.Fatal("sotw subscription to all names does not share the set's names")
	}
	var d subscription
	d.applyDelta([]string{"a", "b"}, nil, true, set)
	if !d.shared {
		t.Fatal("delta subscription to all names does not share the set's names")
	}
	d.applyDelta(nil, []string{"a"}, false, set)
	if d.shared || d.has("a") || !d.has("b") {
		t.Fatalf("after unsubscribing a: shared=%v names=%v", d.shared, d.names)
	}
	if !s.has("a") || len(set.nameSet) != 2 {
		t.Fatalf("the shared name set changed: %v", set.nameSet)
	}
}

// A first SotW list naming every resource of the set, in any order, is taken without
// building a set or listing the names again; anything else (a duplicate in place of a
// name, an unknown name, the wildcard) takes the general path, and later lists are
// compared as usual.
func TestFirstListNamingEveryResource(t *testing.T) {
	set := namedSet("a", "b", "c")
	var s subscription
	in := s.applySotw([]string{"c", "a", "b"}, set)
	if !in.allNamed || len(in.added) != 0 || !s.shared || s.wildcard || s.count() != 3 {
		t.Fatalf("first list of every name: interest %+v, shared=%v wildcard=%v count=%d", in, s.shared, s.wildcard, s.count())
	}
	if in := s.applySotw([]string{"a", "b", "c"}, set); !in.empty() {
		t.Fatalf("the same names again, reordered: %+v", in)
	}
	if in := s.applySotw([]string{"a"}, set); !in.empty() || s.count() != 1 || s.shared {
		t.Fatalf("narrowed to a: interest %+v, count %d, shared %v", in, s.count(), s.shared)
	}
	if in := s.applySotw([]string{"c", "a", "b"}, set); in.allNamed || !slices.Equal(in.added, []string{"b", "c"}) {
		t.Fatalf("widened again: %+v, want b and c added", in)
	}

	for _, names := range [][]string{{"a", "a", "b"}, {"a", "b", "x"}, {"*", "a", "b"}} {
		var g subscription
		in := g.applySotw(names, set)
		if in.allNamed {
			t.Fatalf("%v: taken as naming every resource", names)
		}
		for _, n := range []string{"a", "b", "c"} {
			if want := slices.Contains(names, n) || slices.Contains(names, "*"); g.has(n) != want {
				t.Fatalf("%v: has(%s) = %v", names, n, g.has(n))
			}
		}
	}
}

func TestFirstDeltaSubscriptionNamingEveryResource(t *testing.T) {
	set := namedSet("a", "b")
	var d subscription
	if in := d.applyDelta([]string{"b", "a"}, nil, true, set); !in.allNamed || !d.shared || d.wildcard || d.count() != 2 {
		t.Fatalf("first delta subscription to every name: %+v shared=%v", in, d.shared)
	}
	if in := d.applyDelta([]string{"a"}, nil, false, set); in.allNamed || !slices.Equal(in.added, []string{"a"}) {
		t.Fatalf("subscribing a again is answered as any later subscription: %+v", in)
	}
	var u subscription
	if in := u.applyDelta([]string{"a", "b"}, []string{"a"}, true, set); in.allNamed || u.has("a") {
		t.Fatalf("subscribe and unsubscribe in one request: %+v, has a: %v", in, u.has("a"))
	}
}

// namedSet is a type's resource set with the given names (sorted), as subscriptions see it.
func namedSet(names ...string) *typeSet {
	set := &typeSet{byName: map[string]*resource{}}
	for _, n := range names {
		set.byName[n] = &resource{name: n}
		set.names = append(set.names, n)
	}
	return set
}

// The streams of a view send one shared list: a set canonicalizes it once, and tells a
// list with the same names in another slice, or other names, apart.
func TestCanonicalListIsRememberedByIdentity(t *testing.T) {
	set := namedSet("a", "b", "c")
	shared := []string{"c", "a", "b"}
	out, exact := set.canonicalList(shared)
	if !exact || !slices.Equal(out, shared) || unsafe.StringData(out[0]) != unsafe.StringData(set.byName["c"].name) {
		t.Fatalf("first list of every name: %v exact=%v (want the set's own strings)", out, exact)
	}
	if again, exact := set.canonicalList(shared); !exact || &again[0] != &out[0] {
		t.Fatalf("the same list again was not taken from the memo: exact=%v", exact)
	}
	if _, exact := set.canonicalList([]string{"a", "a", "b"}); exact {
		t.Fatal("a list with a duplicate named every resource")
	}
	if other, exact := set.canonicalList([]string{"c", "a", "b"}); !exact || &other[0] == &out[0] {
		t.Fatalf("the same names in another slice: exact=%v, shared the memo's answer=%v", exact, &other[0] == &out[0])
	}
	var s subscription
	s.applySotw(shared, set)
	if in := s.applySotw(shared, set); !in.empty() {
		t.Fatalf("an ACK repeating the shared list asked for %+v", in)
	}
	if in := s.applySotw([]string{"a"}, set); s.count() != 1 || !in.empty() {
		t.Fatalf("narrowed after the shared list: count %d, %+v", s.count(), in)
	}
	if in := s.applySotw(shared, set); !slices.Equal(in.added, []string{"b", "c"}) {
		t.Fatalf("the shared list again after narrowing: %+v, want b and c added", in)
	}
}
