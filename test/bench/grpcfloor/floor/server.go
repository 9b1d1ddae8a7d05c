package floor

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net"
	"sync"
	"time"

	"google.golang.org/grpc"
)

// Serve is the server process: it listens on a loopback port and reports it
// (evReady), syncs each stream as ex says, and on a push command sends every
// open stream one message of the size named. It returns when in closes.
func Serve(in io.Reader, out io.Writer, ex Exchange) error {
	if err := ex.validate(); err != nil {
		return err
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	srv := &server{ex: ex, cold: make([]byte, ex.ColdBytes/ex.rounds()+1), streams: map[chan []byte]bool{}}
	g := grpc.NewServer(grpc.ForceServerCodecV2(rawCodec{}), grpc.MaxConcurrentStreams(math.MaxUint32))
	desc := streamDesc
	desc.Handler = func(_ any, ss grpc.ServerStream) error { return srv.handle(ss) }
	g.RegisterService(&grpc.ServiceDesc{ServiceName: "floor.Floor", HandlerType: (*any)(nil), Streams: []grpc.StreamDesc{desc}}, nil)
	go func() { _ = g.Serve(l) }()
	defer g.Stop()

	w := newEmitter(out)
	w.emit(event{Event: evReady, Addr: l.Addr().String()})
	sc := bufio.NewScanner(in)
	for sc.Scan() {
		var c command
		if err := json.Unmarshal(sc.Bytes(), &c); err != nil {
			w.emit(event{Event: evError, Message: fmt.Sprintf("bad command %q: %v", sc.Text(), err)})
			continue
		}
		switch c.Cmd {
		case cmdPush:
			if c.Bytes < 1 {
				w.emit(event{Event: evError, Message: fmt.Sprintf("push: bytes must be at least 1, got %d", c.Bytes)})
				continue
			}
			payload := make([]byte, c.Bytes)
			start := time.Now()
			n := srv.push(payload)
			w.emit(event{Event: evPushed, T: start.UnixNano(), Streams: n})
		case cmdCPU:
			w.emit(event{Event: evCPU, CPUSeconds: cpuSeconds()})
		default:
			w.emit(event{Event: evError, Message: fmt.Sprintf("unknown command %q", c.Cmd)})
		}
	}
	return sc.Err()
}

type server struct {
	ex      Exchange
	cold    []byte // as long as the longest cold-sync message: their sizes differ by one at most
	mu      sync.Mutex
	streams map[chan []byte]bool // each open stream's queue of pushes
}

func (s *server) handle(ss grpc.ServerStream) error {
	pushes := make(chan []byte, 16)
	s.mu.Lock()
	s.streams[pushes] = true
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.streams, pushes)
		s.mu.Unlock()
	}()
	var req []byte
	for i := range s.ex.rounds() {
		for range s.ex.requestsIn(i) {
			if err := ss.RecvMsg(&req); err != nil {
				return err
			}
		}
		msg := s.cold[:s.ex.responseBytes(i)]
		if err := ss.SendMsg(&msg); err != nil {
			return err
		}
	}
	gone := make(chan error, 1)
	go func() {
		var more []byte
		for {
			if err := ss.RecvMsg(&more); err != nil {
				gone <- err
				return
			}
		}
	}()
	for {
		select {
		case p := <-pushes:
			if err := ss.SendMsg(&p); err != nil {
				return err
			}
		case err := <-gone:
			return err
		}
	}
}

// push queues payload on every open stream and returns how many there are.
// Each stream's own goroutine sends it, as a control plane's do.
func (s *server) push(payload []byte) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	for q := range s.streams {
		select {
		case q <- payload:
		default: // a stream 16 pushes behind is not keeping up; its client will report it missing
		}
	}
	return len(s.streams)
}
