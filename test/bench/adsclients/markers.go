package main

import (
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/protobuf/types/known/anypb"

	"loom.dev/loom/test/bench/benchproto"
)

// marker is a change the driver made, recognizable in what clients receive.
type marker struct {
	id      string
	t       int
	cmd     benchproto.Command
	seen    []atomic.Int64 // per client: when it received a resource satisfying the marker
	count   atomic.Int64
	report  sync.Once
	matchMu sync.Mutex
	matches map[any]bool // summary -> satisfies (summaries are shared, so this is per distinct content)
}

func (r *runner) arm(cmd benchproto.Command) error {
	m := &marker{id: cmd.ID, cmd: cmd, seen: make([]atomic.Int64, len(r.clients)), matches: map[any]bool{}}
	switch cmd.Kind {
	case benchproto.MarkerRoute:
		if cmd.Domain == "" || cmd.Cluster == "" {
			return fmt.Errorf("route marker needs domain and cluster")
		}
		m.t = tRDS
	case benchproto.MarkerEndpoint:
		if cmd.Cluster == "" || cmd.Address == "" {
			return fmt.Errorf("endpoint marker needs cluster and address")
		}
		m.t = tEDS
	default:
		return fmt.Errorf("unknown marker kind %q", cmd.Kind)
	}
	r.markersMu.Lock()
	defer r.markersMu.Unlock()
	if r.markers[cmd.ID] != nil {
		return fmt.Errorf("marker %q already armed", cmd.ID)
	}
	r.markers[cmd.ID] = m
	return nil
}

// satisfied reports whether one resource satisfies the marker.
func (m *marker) satisfied(p *parseCache, a *anypb.Any) bool {
	var key any
	switch m.t {
	case tRDS:
		rs := p.route(a)
		if rs == nil {
			return false
		}
		key = rs
	case tEDS:
		ca := p.cla(a)
		if ca == nil {
			return false
		}
		key = ca
	}
	m.matchMu.Lock()
	defer m.matchMu.Unlock()
	if v, ok := m.matches[key]; ok {
		return v
	}
	var v bool
	switch s := key.(type) {
	case *routeSum:
		v = slices.Contains(s.domains[m.cmd.Domain], m.cmd.Cluster)
	case *claSum:
		_, has := s.addrs[m.cmd.Address]
		v = s.name == m.cmd.Cluster && has
	}
	m.matches[key] = v
	return v
}

// checkMarkers looks for armed markers of type t in a response received at
// time at.
func (c *client) checkMarkers(t int, resources []*anypb.Any, _ []string, at time.Time) {
	c.r.markersMu.RLock()
	var armed []*marker
	for _, m := range c.r.markers {
		if m.t == t && !c.seen[m.id] {
			armed = append(armed, m)
		}
	}
	c.r.markersMu.RUnlock()
	for _, m := range armed {
		for _, a := range resources {
			if m.satisfied(c.r.parsed, a) {
				c.seen[m.id] = true
				m.seen[c.idx].Store(at.UnixNano())
				if int(m.count.Add(1)) == len(c.r.clients) {
					c.r.reportMarker(m)
				}
				break
			}
		}
	}
}

// reportMarker emits the marker's per-client times once (all seen, or the
// driver asked).
func (r *runner) reportMarker(m *marker) {
	m.report.Do(func() {
		times := make([]int64, len(m.seen))
		for i := range times {
			times[i] = m.seen[i].Load()
		}
		r.emit(r.counters(benchproto.Event{Event: benchproto.EventSeen, ID: m.id, T: time.Now().UnixNano(), Times: times}))
	})
}
