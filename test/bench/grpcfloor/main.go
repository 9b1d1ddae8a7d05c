// Command grpcfloor measures what moving bytes costs on this machine before
// any control plane does anything: one message of --size bytes sent to each
// of --clients gRPC-Go streams, each on its own connection (as the scale
// benchmark's clients are), with a codec that does no protobuf work at all.
// It is the floor under the scale benchmark's cold sync and change figures:
// `go run ./test/bench/grpcfloor --size 1048576` stands for a cold sync of
// 1 MB per client, --size 563200 for a 550 KB RouteConfiguration change.
package main

import (
	"context"
	"flag"
	"fmt"
	"net"
	"os"
	"sync"
	"syscall"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/mem"
)

// rawCodec sends and receives []byte as they are.
type rawCodec struct{}

func (rawCodec) Marshal(v any) (mem.BufferSlice, error) {
	return mem.BufferSlice{mem.SliceBuffer(*v.(*[]byte))}, nil
}

func (rawCodec) Unmarshal(data mem.BufferSlice, v any) error {
	*v.(*[]byte) = data.Materialize()
	return nil
}

func (rawCodec) Name() string { return "proto" }

func cpuSeconds() float64 {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return float64(ru.Utime.Sec+ru.Stime.Sec) + float64(ru.Utime.Usec+ru.Stime.Usec)/1e6
}

func main() {
	clients := flag.Int("clients", 1000, "client streams, one connection each")
	size := flag.Int("size", 1<<20, "bytes sent to each client")
	flag.Parse()
	if err := run(*clients, *size); err != nil {
		fmt.Fprintln(os.Stderr, "grpcfloor:", err)
		os.Exit(1)
	}
}

func run(clients, size int) error {
	payload := make([]byte, size)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	s := grpc.NewServer(grpc.ForceServerCodecV2(rawCodec{}), grpc.MaxConcurrentStreams(100000))
	handler := func(_ any, ss grpc.ServerStream) error {
		var req []byte
		if err := ss.RecvMsg(&req); err != nil {
			return err
		}
		if err := ss.SendMsg(&payload); err != nil {
			return err
		}
		return ss.RecvMsg(&req) // until the client goes
	}
	s.RegisterService(&grpc.ServiceDesc{ServiceName: "floor.Floor", HandlerType: (*any)(nil),
		Streams: []grpc.StreamDesc{{StreamName: "Send", Handler: handler, ServerStreams: true, ClientStreams: true}}}, nil)
	go func() { _ = s.Serve(l) }()
	defer s.Stop()

	streams := make([]grpc.ClientStream, clients)
	for i := range streams {
		// The scale benchmark's clients' settings (Envoy's window sizes).
		cc, err := grpc.NewClient(l.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()),
			grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(1<<30), grpc.ForceCodecV2(rawCodec{})),
			grpc.WithInitialWindowSize(1<<28), grpc.WithInitialConnWindowSize(1<<28), grpc.WithReadBufferSize(64<<10))
		if err != nil {
			return err
		}
		defer func() { _ = cc.Close() }()
		if streams[i], err = cc.NewStream(context.Background(), &grpc.StreamDesc{ServerStreams: true, ClientStreams: true}, "/floor.Floor/Send"); err != nil {
			return err
		}
	}
	time.Sleep(time.Second) // connections settle

	cpu, start := cpuSeconds(), time.Now()
	errs := make(chan error, clients)
	var wg sync.WaitGroup
	for _, st := range streams {
		wg.Go(func() {
			req := []byte{}
			if err := st.SendMsg(&req); err != nil {
				errs <- err
				return
			}
			var got []byte
			if err := st.RecvMsg(&got); err != nil || len(got) != size {
				errs <- fmt.Errorf("received %d bytes: %v", len(got), err)
			}
		})
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		return err
	}
	fmt.Printf("%d bytes to each of %d gRPC-Go streams: %.2f s wall, %.2f s CPU (server and clients)\n",
		size, clients, time.Since(start).Seconds(), cpuSeconds()-cpu)
	return nil
}
