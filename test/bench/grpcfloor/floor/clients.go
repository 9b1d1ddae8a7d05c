package floor

import (
	"context"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
)

// ClientsConfig is what the client process connects.
type ClientsConfig struct {
	Server   string
	Clients  int // streams
	Conns    int // gRPC connections they share; 0 = one each, as the scale benchmark's sidecars
	Exchange Exchange
}

// RunClients is the client process: it opens cfg.Clients streams, each
// syncs as cfg.Exchange says and then receives every message the server
// pushes; once every client has message number n (0: the whole cold sync)
// it reports evReceived for n. It returns when in
// closes or a stream fails (reported as evError).
func RunClients(in io.Reader, out io.Writer, cfg ClientsConfig) error {
	if cfg.Clients < 1 {
		return fmt.Errorf("clients must be at least 1, got %d", cfg.Clients)
	}
	if err := cfg.Exchange.validate(); err != nil {
		return err
	}
	if cfg.Conns <= 0 || cfg.Conns > cfg.Clients {
		cfg.Conns = cfg.Clients
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() { _, _ = io.Copy(io.Discard, in); cancel() }()

	w := newEmitter(out)
	conns := make([]*grpc.ClientConn, cfg.Conns)
	for i := range conns {
		// The scale benchmark's clients' settings (Envoy's window sizes).
		cc, err := grpc.NewClient(cfg.Server, grpc.WithTransportCredentials(insecure.NewCredentials()),
			grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(1<<30), grpc.ForceCodecV2(rawCodec{})),
			grpc.WithInitialWindowSize(1<<28), grpc.WithInitialConnWindowSize(1<<28), grpc.WithReadBufferSize(64<<10))
		if err != nil {
			return err
		}
		defer func() { _ = cc.Close() }()
		conns[i] = cc
	}
	r := &receipts{clients: cfg.Clients, w: w}
	w.emit(event{Event: evStarted, T: time.Now().UnixNano()})
	errs := make(chan error, cfg.Clients)
	for i := range cfg.Clients {
		go func() { errs <- receive(ctx, conns[i%len(conns)], i, cfg.Exchange, r) }()
	}
	select {
	case <-ctx.Done():
		return nil
	case err := <-errs:
		if ctx.Err() != nil {
			return nil
		}
		w.emit(event{Event: evError, Message: err.Error()})
		return err
	}
}

// receive is one client: it syncs, then records every message pushed.
func receive(ctx context.Context, cc *grpc.ClientConn, idx int, ex Exchange, r *receipts) error {
	st, err := cc.NewStream(ctx, &streamDesc, method)
	if err != nil {
		return fmt.Errorf("client %d: %w", idx, err)
	}
	req, cold := ex.request(), 0
	for i := range ex.rounds() {
		for range ex.requestsIn(i) {
			if err := st.SendMsg(&req); err != nil {
				return fmt.Errorf("client %d: %w", idx, err)
			}
		}
		var got []byte
		if err := st.RecvMsg(&got); err != nil {
			return fmt.Errorf("client %d, cold-sync message %d: %w", idx, i, err)
		}
		cold += len(got)
	}
	r.got(idx, 0, cold, time.Now())
	for seq := 1; ; seq++ {
		var got []byte
		if err := st.RecvMsg(&got); err != nil {
			return fmt.Errorf("client %d, message %d: %w", idx, seq, err)
		}
		r.got(idx, seq, len(got), time.Now())
	}
}

// receipts collects when each client got each message.
type receipts struct {
	clients int
	w       *emitter
	bytes   atomic.Int64
	mu      sync.Mutex
	seqs    []*seqReceipts
}

type seqReceipts struct {
	times []int64
	count int
}

func (r *receipts) got(client, seq, n int, at time.Time) {
	r.bytes.Add(int64(n))
	r.mu.Lock()
	for len(r.seqs) <= seq {
		r.seqs = append(r.seqs, &seqReceipts{times: make([]int64, r.clients)})
	}
	s := r.seqs[seq]
	s.times[client] = at.UnixNano()
	s.count++
	all := s.count == r.clients
	r.mu.Unlock()
	if all {
		r.w.emit(event{Event: evReceived, Seq: seq, Times: s.times, Bytes: r.bytes.Load(), CPUSeconds: cpuSeconds()})
	}
}
