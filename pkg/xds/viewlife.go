package xds

import (
	"context"
	"time"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// ViewRemover is implemented by Generators that keep state per view key
// (what ViewKey learned of the node, problems found while generating). The
// server calls ViewRemoved once a view has had no stream for
// Options.ViewGracePeriod, or at the next push that would regenerate it;
// no Generate or endpoint build of that key is started after it unless a
// new stream's ViewKey returned the key again. It is called with the
// server's view lock held, so it must not call back into the Server (nor
// may ViewKey, which a stream that raced a removal calls under that lock).
type ViewRemover interface {
	ViewRemoved(viewKey string)
}

// AuxiliaryViews is implemented by Generators some of whose views serve no proxy (for
// example a view that only carries a trust bundle to agents): streams of those views are
// served like any other but not counted as proxies (Counts, Convergence, the out-of-date
// gauge).
type AuxiliaryViews interface {
	Auxiliary(viewKey string) bool
}

// proxyStreams are the streams of views that serve proxies.
func (s *Server) proxyStreams() []*stream {
	all := s.streamList()
	aux, ok := s.gen.(AuxiliaryViews)
	if !ok {
		return all
	}
	out := all[:0]
	for _, st := range all {
		if !aux.Auxiliary(st.view.key) {
			out = append(out, st)
		}
	}
	return out
}

// openStream resolves the node's view and attaches a new stream to it.
func (s *Server) openStream(ctx context.Context, kind streamKind, node *corev3.Node) (*stream, error) {
	if node == nil || node.GetId() == "" {
		return nil, status.Error(codes.InvalidArgument, "the first request of a stream must carry a node with an id")
	}
	if s.gen == nil {
		return nil, status.Error(codes.Unavailable, "xds server has no generator")
	}
	removals := s.removals.Load()
	key, err := s.viewKey(ctx, node)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	v := s.views[key]
	if v == nil && s.removals.Load() != removals {
		// A view was dropped (and its key forgotten by the generator) after
		// ViewKey registered this node's; it may have been this very key.
		// Asking again under the lock, which removals also hold, registers
		// it for good. Only a removal racing a stream's open comes here.
		if key, err = s.viewKey(ctx, node); err != nil {
			s.mu.Unlock()
			return nil, err
		}
		v = s.views[key]
	}
	if v == nil {
		v = newView(key)
		s.views[key] = v
		s.viewsPeak = max(s.viewsPeak, len(s.views))
		s.metrics.views.Set(float64(len(s.views)))
	}
	v.idleSince = time.Time{}
	s.streamID++
	st := &stream{
		srv: s, id: s.streamID, kind: kind, nodeID: node.GetId(), node: node, view: v,
		connected: time.Now(), wakeCh: make(chan struct{}, 1), types: map[string]*typeState{},
	}
	s.streams[st.id] = st
	v.add(st)
	s.mu.Unlock()
	s.metrics.proxies.WithLabelValues(string(kind)).Inc()
	if s.ready.Load() && v.snapshot() == nil {
		poke(s.newViewCh)
	}
	return st, nil
}

func (s *Server) viewKey(ctx context.Context, node *corev3.Node) (string, error) {
	var key string
	var err error
	if ck, ok := s.gen.(ContextViewKeyer); ok {
		key, err = ck.ViewKeyFor(ctx, node)
	} else {
		key, err = s.gen.ViewKey(node)
	}
	if err != nil {
		if _, isStatus := status.FromError(err); isStatus {
			return "", err
		}
		return "", status.Errorf(codes.InvalidArgument, "node %q: %v", node.GetId(), err)
	}
	return key, nil
}

// closeStream detaches a stream. A view left without streams becomes idle:
// it is dropped after the grace period (at once if the period is negative).
func (s *Server) closeStream(st *stream) {
	s.mu.Lock()
	delete(s.streams, st.id)
	recs, empty := st.view.remove(st)
	idle := empty && s.views[st.view.key] == st.view
	if idle {
		st.view.idleSince = time.Now()
		if s.grace < 0 {
			s.dropLocked(st.view)
		}
	}
	s.mu.Unlock()
	if idle && s.grace >= 0 {
		poke(s.idleCh)
	}
	releaseAll(recs)
	st.mu.Lock()
	st.release()
	st.mu.Unlock()
	s.metrics.proxies.WithLabelValues(string(st.kind)).Dec()
}

// watchedViews drops every idle view and returns the others, for a push
// that changes config: regenerating a view nobody watches, on every push of
// its grace period, would cost more than regenerating it for a proxy that
// comes back. So the grace period only spares the regenerate while nothing
// changed.
func (s *Server) watchedViews() []*view {
	s.mu.Lock()
	defer s.mu.Unlock()
	var idle []*view
	out := make([]*view, 0, len(s.views))
	for _, v := range s.views {
		if v.idleSince.IsZero() {
			out = append(out, v)
		} else {
			idle = append(idle, v)
		}
	}
	for _, v := range idle {
		s.dropLocked(v)
	}
	return out
}

// dropIdleViews drops the views idle for at least the grace period at now
// and returns how long until the next idle view is due (0: none is idle).
func (s *Server) dropIdleViews(now time.Time) time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	var next time.Duration
	var due []*view
	for _, v := range s.views {
		if v.idleSince.IsZero() {
			continue
		}
		if wait := v.idleSince.Add(s.grace).Sub(now); wait > 0 {
			if next == 0 || wait < next {
				next = wait
			}
			continue
		}
		due = append(due, v)
	}
	for _, v := range due { // dropLocked may replace s.views
		s.dropLocked(v)
	}
	return next
}

// dropLocked removes an idle view and tells the generator. Caller holds s.mu.
func (s *Server) dropLocked(v *view) {
	delete(s.views, v.key)
	s.views = shrink(s.views, &s.viewsPeak)
	v.gone.Store(true)
	s.metrics.views.Set(float64(len(s.views)))
	if r, ok := s.gen.(ViewRemover); ok {
		r.ViewRemoved(v.key)
	}
	// Counted only once the generator has forgotten the key: a stream that reads the count
	// after this sees its own ViewKey register the key anew, and one that read it before
	// finds it changed and asks again under the lock.
	s.removals.Add(1)
}

// viewCount is the number of views held, idle ones included.
func (s *Server) viewCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.views)
}

// shrink returns m, or a copy of it once it holds less than a quarter of
// its peak (which it then resets): Go maps keep their buckets after
// deletes, so a churn of many views would otherwise keep their memory.
func shrink[K comparable, V any](m map[K]V, peak *int) map[K]V {
	if *peak < 64 || len(m) >= *peak/4 {
		return m
	}
	out := make(map[K]V, len(m))
	for k, v := range m {
		out[k] = v
	}
	*peak = len(out)
	return out
}
