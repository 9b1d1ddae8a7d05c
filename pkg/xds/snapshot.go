package xds

import (
	"bytes"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"

	"github.com/cespare/xxhash/v2"
	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	discoveryv3 "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	"github.com/envoyproxy/go-control-plane/pkg/cache/types"
	cachev3 "github.com/envoyproxy/go-control-plane/pkg/cache/v3"
	resourcev3 "github.com/envoyproxy/go-control-plane/pkg/resource/v3"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"
)

// resource is one marshaled resource. It is immutable once built and shared
// by every stream of every view that contains it: SotW responses carry any,
// delta responses carry delta, both point at the same bytes. It holds no
// message: the generator's messages are garbage once marshaled (a view's
// config held twice, as messages and as bytes, would be most of the heap);
// the few readers of a message decode it (message).
type resource struct {
	name    string
	version string // hex xxhash64 of the marshaled bytes
	any     *anypb.Any
	delta   *discoveryv3.Resource
	// edsService is, for an EDS cluster, the ClusterLoadAssignment it is served
	// with (its service name, or its own name); "" for anything else.
	edsService string
}

// message decodes the resource.
func (r *resource) message() (types.Resource, error) {
	m, err := r.any.UnmarshalNew()
	if err != nil {
		return nil, err
	}
	return m.(types.Resource), nil
}

// edsServiceOf is what resource.edsService says for msg.
func edsServiceOf(name string, msg types.Resource) string {
	c, ok := msg.(*clusterv3.Cluster)
	if !ok || c.GetType() != clusterv3.Cluster_EDS {
		return ""
	}
	if eds := c.GetEdsClusterConfig().GetServiceName(); eds != "" {
		return eds
	}
	return name
}

// typeSet is the resources of one type in one snapshot.
type typeSet struct {
	byName  map[string]*resource
	names   []string                // sorted
	anys    []*anypb.Any            // in names order: a response with everything of the type
	deltas  []*discoveryv3.Resource // the same, for delta responses
	version string                  // changes whenever any resource of the type changes

	anysEnc, deltasEnc sharedEncoding

	nameSetOnce sync.Once
	nameSet     map[string]struct{} // names, for subscriptions to all of them; read-only
	// positions indexes names, for namedExactly; built on first use.
	positionsOnce sync.Once
	positions     map[string]int

	lastList listMemo
}

// listMemo is the last request list canonicalized against a set. The streams of a view
// send the very same list, decoded once and shared (see requestcodec.go), so a list
// with the same backing array and length has the same contents: lists are never
// modified once decoded.
type listMemo struct {
	mu      sync.Mutex
	in, out []string
	exact   bool
}

// canonicalList returns names made of the set's own strings (see canonical), and
// whether they are exactly the set's names with no wildcard among them: the cold-sync
// case of a first list naming every resource.
func (t *typeSet) canonicalList(names []string) (out []string, exact bool) {
	if t == nil {
		return names, false
	}
	m := &t.lastList
	m.mu.Lock()
	if sameSlice(m.in, names) {
		out, exact = m.out, m.exact
		m.mu.Unlock()
		return out, exact
	}
	m.mu.Unlock()
	if slices.Equal(names, t.names) {
		out = t.names
	} else {
		out = canonical(names, t)
	}
	exact = t.get(wildcardName) == nil && t.namedExactly(out)
	m.mu.Lock()
	m.in, m.out, m.exact = names, out, exact
	m.mu.Unlock()
	return out, exact
}

// sameSlice reports whether a and b are the same slice: one backing array, one length.
func sameSlice(a, b []string) bool {
	return len(a) == len(b) && (len(a) == 0 || &a[0] == &b[0])
}

// shareIfAll returns the set's shared, read-only name set if names holds
// exactly the set's names (streams commonly subscribe to all of a view's
// endpoints or routes, and a map per stream would cost memory per stream),
// else names itself.
func (t *typeSet) shareIfAll(names map[string]struct{}) (map[string]struct{}, bool) {
	if t == nil || len(names) != len(t.names) || len(names) == 0 {
		return names, false
	}
	for n := range names {
		if t.byName[n] == nil {
			return names, false
		}
	}
	return t.sharedNameSet(), true
}

// sharedNameSet returns the set's names as a read-only set, built once.
func (t *typeSet) sharedNameSet() map[string]struct{} {
	t.nameSetOnce.Do(func() {
		t.nameSet = make(map[string]struct{}, len(t.names))
		for _, n := range t.names {
			t.nameSet[n] = struct{}{}
		}
	})
	return t.nameSet
}

// namedExactly reports whether names, in any order, are the set's names, each once:
// checked with one lookup per name and a bit per resource, without building a set.
func (t *typeSet) namedExactly(names []string) bool {
	if t == nil || len(names) != len(t.names) || len(names) == 0 {
		return false
	}
	t.positionsOnce.Do(func() {
		t.positions = make(map[string]int, len(t.names))
		for i, n := range t.names {
			t.positions[n] = i
		}
	})
	seen := make([]uint64, (len(names)+63)/64)
	for _, n := range names {
		i, ok := t.positions[n]
		if !ok || seen[i/64]&(1<<(i%64)) != 0 {
			return false
		}
		seen[i/64] |= 1 << (i % 64)
	}
	return true
}

func (t *typeSet) get(name string) *resource {
	if t == nil {
		return nil
	}
	return t.byName[name]
}

// canonical returns the set's own string for name, or name if the set has
// no such resource.
func (t *typeSet) canonical(name string) string {
	if r := t.get(name); r != nil {
		return r.name
	}
	return name
}

func (t *typeSet) len() int {
	if t == nil {
		return 0
	}
	return len(t.names)
}

// emptyVersion is the version of a type the view has no resources of; it
// equals the version buildSnapshot computes for an empty list.
var emptyVersion = strconv.FormatUint(xxhash.New().Sum64(), 16)

// typeChange lists the names whose resource was added, modified or removed
// between two snapshots of a view. The sorted lists and the response bodies
// are built once per view, so every stream whose subscription covers all
// the changes sends the same slices.
type typeChange struct {
	changed map[string]struct{}
	removed map[string]struct{}

	changedSorted []string
	removedSorted []string
	anys          []*anypb.Any            // of changedSorted, in order
	deltas        []*discoveryv3.Resource // of changedSorted, in order

	anysEnc, deltasEnc sharedEncoding
}

func (c *typeChange) has(name string) bool {
	if c == nil {
		return false
	}
	_, ok := c.changed[name]
	return ok
}

// covered reports whether the subscription wants every changed and removed
// name, so the shared bodies can be sent as they are.
func (c *typeChange) covered(sub *subscription) bool {
	if sub.wildcard {
		return true
	}
	for _, n := range c.changedSorted {
		if _, ok := sub.names[n]; !ok {
			return false
		}
	}
	for _, n := range c.removedSorted {
		if _, ok := sub.names[n]; !ok {
			return false
		}
	}
	return true
}

// snapshot is one generation of a view. Snapshots are immutable; a stream
// remembers the snapshot it was last brought up to date with.
type snapshot struct {
	seq     uint64 // per view, increases with every published snapshot
	types   map[string]*typeSet
	parent  uint64                 // seq of the snapshot changes is relative to
	changes map[string]*typeChange // vs the parent; only types with changes
}

// version of a type in the snapshot; emptyVersion if it has none.
func (s *snapshot) version(typeURL string) string {
	if set := s.types[typeURL]; set != nil {
		return set.version
	}
	return emptyVersion
}

// marshaler marshals each distinct message once per push, even when several
// views (generated in parallel) return the same message pointer. It remembers a
// message while views that return it keep being marshaled: an entry not looked up
// by the last forgetAfter to 2*forgetAfter views is dropped, so the messages of
// views long marshaled are garbage during the push, not held until its end (a
// push generates views in key order, so the views sharing messages, those of one
// namespace, are marshaled one after the other). 0 remembers everything.
type marshaler struct {
	mu          sync.Mutex
	done, older map[types.Resource]*marshaled
	forgetAfter int           // views
	views       int           // marshaled since done was started
	count       *atomic.Int64 // total marshals, for tests and metrics
	// same holds the push's resources by type, name and version: views whose messages
	// differ but marshal to the same bytes (every namespace's clusters for the same
	// services) share one resource, not a copy each.
	same map[string]*resource
	// sets holds the push's type sets by type and version: views with the same
	// resources of a type (every sidecar's assignments, often) share one set, its
	// index and its encoding.
	sets map[string]*typeSet
}

type marshaled struct {
	once sync.Once
	r    *resource
	err  error
}

func newMarshaler(count *atomic.Int64) *marshaler {
	return &marshaler{done: map[types.Resource]*marshaled{}, count: count}
}

// viewMarshaled notes that a view's messages are all marshaled.
func (m *marshaler) viewMarshaled() {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.forgetAfter <= 0 {
		return
	}
	if m.views++; m.views >= m.forgetAfter {
		m.older, m.done, m.views = m.done, map[types.Resource]*marshaled{}, 0
	}
}

var marshalOpts = proto.MarshalOptions{Deterministic: true}

// resourceFor marshals msg, or returns the resource built for the same
// message earlier in this push, or prev when the bytes did not change (so
// unchanged resources keep their identity across pushes).
func (m *marshaler) resourceFor(typeURL, name string, msg types.Resource, prev *resource) (*resource, error) {
	m.mu.Lock()
	e := m.done[msg]
	if e == nil {
		if e = m.older[msg]; e == nil {
			e = &marshaled{}
		}
		m.done[msg] = e
	}
	m.mu.Unlock()
	e.once.Do(func() {
		b, err := marshalOpts.Marshal(msg)
		if err != nil {
			e.err = err
			return
		}
		m.count.Add(1)
		version := strconv.FormatUint(xxhash.Sum64(b), 16)
		if prev != nil && prev.version == version && bytes.Equal(prev.any.Value, b) {
			e.r = m.shared(typeURL, prev)
			return
		}
		a := &anypb.Any{TypeUrl: typeURL, Value: b}
		e.r = m.shared(typeURL, &resource{name: name, version: version, any: a, edsService: edsServiceOf(name, msg),
			delta: &discoveryv3.Resource{Name: name, Version: version, Resource: a}})
	})
	return e.r, e.err
}

func sameBytes(a, b *resource) bool {
	return a == b || (a.version == b.version && bytes.Equal(a.any.Value, b.any.Value))
}

// shared returns the push's resource of r's type and name with r's bytes, r if it is the first.
func (m *marshaler) shared(typeURL string, r *resource) *resource {
	m.mu.Lock()
	defer m.mu.Unlock()
	return intern(&m.same, typeURL+"\x00"+r.name+"\x00"+r.version, r, func(a, b *resource) bool { return bytes.Equal(a.any.Value, b.any.Value) })
}

// intern returns the value table holds under key if equal to v, else v, which it stores
// under key when the key is new (on a hash collision the first value stays shared).
func intern[T any](table *map[string]*T, key string, v *T, equal func(a, b *T) bool) *T {
	if held := (*table)[key]; held != nil {
		if equal(held, v) {
			return held
		}
		return v
	}
	if *table == nil {
		*table = map[string]*T{}
	}
	(*table)[key] = v
	return v
}

// index fills in what is derived from byName and names (sorted).
func (t *typeSet) index() {
	t.anys = make([]*anypb.Any, len(t.names))
	t.deltas = make([]*discoveryv3.Resource, len(t.names))
	h := xxhash.New()
	for i, n := range t.names {
		r := t.byName[n]
		t.anys[i], t.deltas[i] = r.any, r.delta
		_, _ = h.WriteString(n)
		_, _ = h.WriteString("\x00")
		_, _ = h.WriteString(r.version)
		_, _ = h.WriteString("\x00")
	}
	t.version = strconv.FormatUint(h.Sum64(), 16)
}

// buildSnapshot marshals the generator's output. Resources that cannot be
// served (nil, unnamed, of a different message type than their type URL,
// duplicated) are skipped and reported in problems; they never fail the view.
func buildSnapshot(gen map[string][]types.Resource, prev *snapshot, m *marshaler) (snap *snapshot, problems []string) {
	snap = &snapshot{types: make(map[string]*typeSet, len(gen))}
	for typeURL, list := range gen {
		ts := &typeSet{byName: make(map[string]*resource, len(list))}
		var prevSet *typeSet
		if prev != nil {
			prevSet = prev.types[typeURL]
		}
		for _, msg := range list {
			if msg == nil || !msg.ProtoReflect().IsValid() {
				problems = append(problems, fmt.Sprintf("%s: nil resource", typeLabel(typeURL)))
				continue
			}
			if got := resourcev3.APITypePrefix + string(msg.ProtoReflect().Descriptor().FullName()); got != typeURL {
				problems = append(problems, fmt.Sprintf("%s: resource of type %s under type URL %s", typeLabel(typeURL), got, typeURL))
				continue
			}
			name := cachev3.GetResourceName(msg)
			if name == "" {
				problems = append(problems, fmt.Sprintf("%s: resource without a name", typeLabel(typeURL)))
				continue
			}
			if p := prevSet.get(name); p != nil {
				name = p.name // one string per name across generations, which subscriptions share
			}
			if _, dup := ts.byName[name]; dup {
				problems = append(problems, fmt.Sprintf("%s: duplicate name %q, keeping the first", typeLabel(typeURL), name))
				continue
			}
			r, err := m.resourceFor(typeURL, name, msg, prevSet.get(name))
			if err != nil {
				problems = append(problems, fmt.Sprintf("%s %q: marshal: %v", typeLabel(typeURL), name, err))
				continue
			}
			ts.byName[name] = r
			ts.names = append(ts.names, name)
		}
		sort.Strings(ts.names)
		ts.index()
		snap.types[typeURL] = m.sharedSet(typeURL, ts)
	}
	return snap, problems
}

// sharedSet returns the push's type set of ts's type with ts's resources, ts if it is the first.
func (m *marshaler) sharedSet(typeURL string, ts *typeSet) *typeSet {
	m.mu.Lock()
	defer m.mu.Unlock()
	return intern(&m.sets, typeURL+"\x00"+ts.version, ts, sameResources)
}

// sameResources reports whether a and b hold the same resources under the same names.
func sameResources(a, b *typeSet) bool {
	if len(a.names) != len(b.names) {
		return false
	}
	for i, n := range a.names {
		if b.names[i] != n || a.byName[n] != b.byName[n] {
			return false
		}
	}
	return true
}

// diffSnapshots returns, per type, the names that differ between old and
// cur. A changed EDS cluster also marks its ClusterLoadAssignment changed:
// Envoy finishes warming an updated cluster only when it receives the
// assignment again, even if the endpoints did not change.
func diffSnapshots(old, cur *snapshot) map[string]*typeChange {
	out := map[string]*typeChange{}
	get := func(t string) *typeChange {
		c := out[t]
		if c == nil {
			c = &typeChange{changed: map[string]struct{}{}, removed: map[string]struct{}{}}
			out[t] = c
		}
		return c
	}
	for t, cs := range cur.types {
		var os *typeSet
		if old != nil {
			os = old.types[t]
		}
		for name, r := range cs.byName {
			if o := os.get(name); o == nil || o.version != r.version {
				get(t).changed[name] = struct{}{}
			}
		}
		if os != nil {
			for name := range os.byName {
				if _, ok := cs.byName[name]; !ok {
					get(t).removed[name] = struct{}{}
				}
			}
		}
	}
	if old != nil {
		for t, os := range old.types {
			if _, ok := cur.types[t]; ok {
				continue
			}
			for name := range os.byName {
				get(t).removed[name] = struct{}{}
			}
		}
	}
	if cc := out[resourcev3.ClusterType]; cc != nil {
		eps := cur.types[resourcev3.EndpointType]
		for name := range cc.changed {
			eds := cur.types[resourcev3.ClusterType].get(name).edsService
			if eds != "" && eps.get(eds) != nil {
				get(resourcev3.EndpointType).changed[eds] = struct{}{}
			}
		}
	}
	for t, c := range out {
		if len(c.changed) == 0 && len(c.removed) == 0 {
			delete(out, t)
			continue
		}
		c.index(cur.types[t])
	}
	return out
}

// index fills in the sorted lists and the response bodies; set is the
// type's resources in the newer snapshot.
func (c *typeChange) index(set *typeSet) {
	c.changedSorted = sortedKeys(c.changed)
	c.removedSorted = sortedKeys(c.removed)
	c.anys = make([]*anypb.Any, len(c.changedSorted))
	c.deltas = make([]*discoveryv3.Resource, len(c.changedSorted))
	for i, n := range c.changedSorted {
		r := set.byName[n]
		c.anys[i], c.deltas[i] = r.any, r.delta
	}
}

func sortedKeys(m map[string]struct{}) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
