package xds

import (
	"context"
	"errors"
	"io"
	"sort"
	"strconv"
	"sync"
	"time"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	discoveryv3 "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	rpcstatus "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

type streamKind string

const (
	kindSotw  streamKind = "sotw"
	kindDelta streamKind = "delta"
)

// maxPending bounds the unanswered responses remembered per type, so a
// client that never ACKs cannot grow the server's memory.
const maxPending = 64

// sentResponse is a response the client has not answered yet.
type sentResponse struct {
	nonce   string
	version string
	base    *snapshot // the snapshot the client is up to date with once it applies this
	recs    []*pushRecord
	delta   []*discoveryv3.Resource // a delta response's resources (nil for SotW)
}

// typeState is one stream's protocol state for one type URL.
type typeState struct {
	sub       subscription
	want      interest          // (re)sends requested by subscription changes, not yet sent
	initial   map[string]string // delta initial_resource_versions, until first applied
	responded bool
	pending   []sentResponse

	sentNonce, sentVersion   string
	sentAt                   time.Time
	sentResources            int
	ackedNonce, ackedVersion string
	ackedBase                *snapshot
	nack                     *nackInfo

	// rejected is the node's earlier NACK of this type, looked up when the
	// stream's first request of the type says the client holds an accepted
	// config (see rejections); nil once it no longer applies.
	rejected *rejection
	// resumedFrom is the version_info of the first SotW request.
	resumedFrom string
	withheld    bool // a SotW response was withheld because of rejected
}

// stream is one ADS stream (SotW or delta). Its protocol state is written
// only by the stream's goroutine; mu lets the debug handlers read it.
type stream struct {
	srv       *Server
	id        uint64
	kind      streamKind
	nodeID    string
	node      *corev3.Node
	view      *view
	connected time.Time
	wakeCh    chan struct{}
	inbox     []*pushRecord // guarded by view.mu

	mu        sync.Mutex
	base      *snapshot // every subscribed resource was last sent at its version in base
	types     map[string]*typeState
	typeOrder []string // types' keys in send order; nil when a type was added since
	nonce     uint64
}

func (st *stream) wake() {
	select {
	case st.wakeCh <- struct{}{}:
	default:
	}
}

// typeState returns the state of a type, creating it. Caller holds st.mu.
func (st *stream) typeState(typeURL string) (ts *typeState, created bool) {
	ts = st.types[typeURL]
	if ts == nil {
		ts = &typeState{}
		st.types[typeURL] = ts
		st.typeOrder = nil
		created = true
	}
	return ts, created
}

// sortedTypes returns the stream's type URLs in send order, kept until a type is
// added. Caller holds st.mu.
func (st *stream) sortedTypes() []string {
	if len(st.typeOrder) == len(st.types) {
		return st.typeOrder
	}
	out := make([]string, 0, len(st.types))
	for t := range st.types {
		out = append(out, t)
	}
	sortTypes(out)
	st.typeOrder = out
	return out
}

// record notes a response about to be sent and returns its nonce. Caller
// holds st.mu.
func (st *stream) record(ts *typeState, version string, resources int, delta []*discoveryv3.Resource, cur *snapshot, recs []*pushRecord) string {
	st.nonce++
	nonce := strconv.FormatUint(st.nonce, 10)
	if len(ts.pending) >= maxPending {
		for _, r := range ts.pending[0].recs {
			r.abandoned()
		}
		ts.pending = append(ts.pending[:0], ts.pending[1:]...)
	}
	ts.pending = append(ts.pending, sentResponse{nonce: nonce, version: version, base: cur, recs: recs, delta: delta})
	for _, r := range recs {
		r.sent()
	}
	ts.responded = true
	ts.sentNonce, ts.sentVersion, ts.sentAt, ts.sentResources = nonce, version, time.Now(), resources
	return nonce
}

// answer handles the ACK or NACK carried by a request: the response with this
// nonce and every earlier one of the type are answered. Nonces the stream
// does not know (already answered, or never sent) carry no information.
// Caller holds st.mu.
func (st *stream) answer(typeURL string, ts *typeState, nonce string, errDetail *rpcstatus.Status) {
	i := -1
	for j := range ts.pending {
		if ts.pending[j].nonce == nonce {
			i = j
			break
		}
	}
	if i < 0 {
		return
	}
	answered := ts.pending[:i+1]
	last := answered[i]
	ts.pending = append([]sentResponse(nil), ts.pending[i+1:]...)
	nack := errDetail != nil
	if nack {
		st.srv.nacks.record(st, typeURL, ts, last, errDetail.GetMessage())
		st.srv.rejected.remember(st.nodeID, typeURL, rejectionOf(last, ts.nack))
	} else {
		ts.ackedNonce, ts.ackedVersion, ts.ackedBase = last.nonce, last.version, last.base
		st.srv.rejected.acked(st.nodeID, typeURL, last.version)
	}
	for j, a := range answered {
		for _, r := range a.recs {
			r.answered(nack && j == i)
		}
	}
}

// release abandons every push record the stream still holds. Caller holds st.mu.
func (st *stream) release() {
	for _, ts := range st.types {
		for _, p := range ts.pending {
			for _, r := range p.recs {
				r.abandoned()
			}
		}
		ts.pending = nil
	}
}

// serve runs a stream: requests and wake-ups are handled on this goroutine
// only, one at a time; a helper goroutine just receives.
func serve[Req any](ctx context.Context, st *stream, first Req, recv func() (Req, error), onRequest func(Req) error, sync func() error) error {
	reqs := make(chan Req, 16)
	errc := make(chan error, 1)
	go func() {
		for {
			r, err := recv()
			if err != nil {
				errc <- err
				return
			}
			select {
			case reqs <- r:
			case <-ctx.Done():
				return
			}
		}
	}()
	if err := onRequest(first); err != nil {
		return err
	}
	for {
		select {
		case <-ctx.Done():
			return status.FromContextError(ctx.Err()).Err()
		case err := <-errc:
			if errors.Is(err, io.EOF) {
				return nil
			}
			return err
		case r := <-reqs:
			if err := onRequest(r); err != nil {
				return err
			}
		case <-st.wakeCh:
			if err := sync(); err != nil {
				return err
			}
		}
	}
}

func errNoTypeURL() error {
	return status.Error(codes.InvalidArgument, "type_url is required on an aggregated (ADS) stream")
}

// sortedNames returns the explicitly subscribed names in order.
func (s *subscription) sortedNames() []string {
	out := make([]string, 0, len(s.names))
	for n := range s.names {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// typeRound is what a sync knows of one type when it builds its response.
type typeRound struct {
	typeURL string
	ts      *typeState
	cur     *snapshot
	change  *typeChange // since the stream's base; nil if none
	all     bool        // the stream has been sent nothing yet
	version string      // of the type in cur
	// record notes the response about to be sent (delta: its resources)
	// and returns its nonce.
	record func(resources int, delta []*discoveryv3.Resource) string
}

// syncTypes brings the stream up to date with the view's current snapshot:
// respond builds each type's response (the variant's part), and what it
// builds is sent in type order.
func (st *stream) syncTypes(send func(any) error, respond func(typeRound) (any, bool)) error {
	cur, recs := st.view.current(st)
	if cur == nil {
		releaseAll(recs)
		return nil
	}
	st.mu.Lock()
	changes, all := st.view.changesSince(st.base, cur)
	var out []sent
	for _, t := range st.sortedTypes() {
		r := typeRound{typeURL: t, ts: st.types[t], cur: cur, change: changes[t], all: all, version: cur.version(t)}
		r.record = func(n int, delta []*discoveryv3.Resource) string {
			return st.record(r.ts, r.version, n, delta, cur, recs)
		}
		if msg, ok := respond(r); ok {
			out = append(out, sent{typeURL: t, msg: msg})
		}
	}
	st.base = cur
	st.mu.Unlock()
	releaseAll(recs)
	return st.sendAll(out, send)
}

// sent is a response ready for the wire.
type sent struct {
	typeURL string
	msg     any // *outgoing or the response message
}

// sendAll sends the responses in order and counts them.
func (st *stream) sendAll(out []sent, send func(any) error) error {
	for _, r := range out {
		if err := send(r.msg); err != nil {
			return err
		}
		label := typeLabel(r.typeURL)
		st.srv.metrics.bytesSent.WithLabelValues(label).Add(float64(encodedSize(r.msg)))
		st.srv.metrics.responses.WithLabelValues(label, string(st.kind)).Inc()
	}
	return nil
}

// resumes looks up the node's earlier rejection of a type for a stream whose
// first request of it says the client holds an accepted config. Caller
// holds st.mu.
func (st *stream) resumes(ts *typeState, typeURL string) {
	ts.rejected = st.srv.rejected.lookup(st.nodeID, typeURL, time.Now())
}
