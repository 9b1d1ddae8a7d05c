package xds

import (
	"maps"
	"slices"
	"sort"
)

const wildcardName = "*"

// subscription is what one stream asked for of one type, following the
// "How the client specifies what resources to return" rules of the xDS spec:
// a client that has never named a resource is a legacy wildcard subscriber;
// once it names one (including "*"), only "*" means wildcard and an empty
// list means nothing.
type subscription struct {
	wildcard bool
	explicit bool // some request named a resource
	names    map[string]struct{}
	shared   bool // names is the snapshot's read-only name set: copy before changing it
	// last is the previous SotW request's list: clients repeat the same list
	// in every ACK, and comparing in order is cheaper than set lookups.
	last []string
	// lastRequested is the list as the previous request carried it (shared with other
	// requests of the same list: see requestcodec.go): an ACK repeating it is seen
	// without comparing names.
	lastRequested []string
}

// interest is what a subscription change asks the server to (re)send.
type interest struct {
	added    []string // names that must be sent (or, in delta, reported absent)
	wildcard bool     // the wildcard was just added: send everything
	// every subscribed name must be sent: a first request (SotW or delta) named
	// every resource of the type, said without listing them again
	allNamed bool
}

func (i *interest) merge(o interest) {
	i.added = append(i.added, o.added...)
	i.wildcard = i.wildcard || o.wildcard
	i.allNamed = i.allNamed || o.allNamed
}

func (i *interest) empty() bool { return len(i.added) == 0 && !i.wildcard && !i.allNamed }

func (s *subscription) has(name string) bool {
	if s.wildcard {
		return true
	}
	_, ok := s.names[name]
	return ok
}

// active reports whether the stream wants anything of the type.
func (s *subscription) active() bool { return s.wildcard || len(s.names) > 0 }

// applySotw replaces the subscription with a SotW request's resource_names.
// Names not subscribed before are returned: the spec requires resending
// newly requested resources even if they were sent earlier.
// set is the type's resources in the view's current snapshot, whose name
// strings the subscription keeps instead of the request's (nil: none yet).
func (s *subscription) applySotw(names []string, set *typeSet) interest {
	var in interest
	if len(names) == 0 {
		s.last, s.lastRequested = nil, nil
		if !s.explicit {
			in.wildcard = !s.wildcard
			s.wildcard = true
		} else {
			s.wildcard = false
			s.names, s.shared = nil, false
		}
		return in
	}
	s.explicit = true
	if sameSlice(names, s.lastRequested) || slices.Equal(names, s.last) {
		return in
	}
	s.lastRequested = names
	names, exact := set.canonicalList(names)
	// The cold-sync case, thousands of times: a first list that names every resource.
	if len(s.names) == 0 && !s.wildcard && exact {
		s.last = names
		s.names, s.shared = set.sharedNameSet(), true
		in.allNamed = true
		return in
	}
	if s.sameNames(names) {
		s.last = names
		return in
	}
	s.last = names
	next := make(map[string]struct{}, len(names))
	wildcard := false
	for _, n := range names {
		if n == wildcardName {
			wildcard = true
			continue
		}
		next[n] = struct{}{}
		if _, ok := s.names[n]; !ok {
			in.added = append(in.added, n)
		}
	}
	in.wildcard = wildcard && !s.wildcard
	s.wildcard = wildcard
	s.names, s.shared = set.shareIfAll(next)
	sort.Strings(in.added)
	return in
}

// sameNames reports, without allocating, whether names is exactly the
// current explicit, non-wildcard subscription. It assumes names has no
// duplicates (xDS clients send a set).
func (s *subscription) sameNames(names []string) bool {
	if s.wildcard || len(names) != len(s.names) {
		return false
	}
	for _, n := range names {
		if _, ok := s.names[n]; !ok {
			return false
		}
	}
	return true
}

// applyDelta applies a delta request's subscribe and unsubscribe lists.
// first marks the first request of the type on the stream. Every name in
// subscribe is returned as added, even if already subscribed: the spec says
// the client may have forgotten it. Names unsubscribed while the wildcard
// stays on are returned as well, since the client cannot tell whether the
// wildcard still covers them and the server must say so.
func (s *subscription) applyDelta(subscribe, unsubscribe []string, first bool, set *typeSet) interest {
	var in interest
	if first && len(subscribe) == 0 && len(unsubscribe) == 0 {
		in.wildcard = true
		s.wildcard = true
		return in
	}
	if len(subscribe)+len(unsubscribe) == 0 {
		return in
	}
	if len(s.names) == 0 && !s.wildcard && len(unsubscribe) == 0 {
		if _, exact := set.canonicalList(subscribe); exact {
			s.explicit = true
			s.names, s.shared = set.sharedNameSet(), true
			in.allNamed = true
			return in
		}
	}
	if s.shared {
		s.names, s.shared = maps.Clone(s.names), false
	}
	defer func() { s.names, s.shared = set.shareIfAll(s.names) }()
	for _, n := range subscribe {
		s.explicit = true
		if n == wildcardName {
			in.wildcard = in.wildcard || !s.wildcard
			s.wildcard = true
			continue
		}
		if s.names == nil {
			s.names = map[string]struct{}{}
		}
		n = set.canonical(n)
		s.names[n] = struct{}{}
		in.added = append(in.added, n)
	}
	for _, n := range unsubscribe {
		if n == wildcardName {
			s.wildcard = false
		}
	}
	for _, n := range unsubscribe {
		if _, ok := s.names[n]; !ok {
			continue
		}
		delete(s.names, n)
		if s.wildcard {
			in.added = append(in.added, n)
		}
	}
	sort.Strings(in.added)
	return in
}

// count is the number of explicitly subscribed names.
func (s *subscription) count() int { return len(s.names) }

// canonical returns names made of the set's own name strings where it has
// them: thousands of streams subscribe to the same names, and each request
// brings its own copies, which every subscription would otherwise keep.
func canonical(names []string, set *typeSet) []string {
	out := make([]string, len(names))
	for i, n := range names {
		out[i] = set.canonical(n)
	}
	return out
}
