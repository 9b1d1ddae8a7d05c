package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"os/signal"
	"strconv"
	"sync"
	"syscall"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/connectivity"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/structpb"
	"google.golang.org/protobuf/types/known/wrapperspb"

	xdscreds "google.golang.org/grpc/credentials/xds"
	"google.golang.org/grpc/xds"
)

const serverUsage = `usage: grpcecho server --name NAME --listen ADDR [--xds] [--fail-code CODE] [--grace D]

Serves the unary method /loom.test.Echo/Echo (request google.protobuf.StringValue,
response google.protobuf.Struct {"name": NAME, "message": <request>,
"authority": <:authority>, "peer": <client addr>}). Every response (OK or not)
carries the trailer "x-backend: NAME"; OK responses carry it as a header too.

Per-request metadata, applied in this order:
  x-fail-first-n: N, x-fail-key: K  the first N calls with key K (per server
                                    process) fail with Unavailable before any
                                    header is sent (so gRPC retry policies apply)
  x-sleep: D                        sleep D (Go duration) before answering; the
                                    call ends early with the ctx error if the
                                    client cancels or its deadline passes
  x-fail-code: CODE                 fail with CODE (e.g. Unavailable, INTERNAL, 14)
--fail-code CODE makes every call to this server fail with CODE (after x-sleep).

Output: stdout gets exactly one line "READY <addr>" (addr = actual listening
address) once the server accepts RPCs: for a plain server right after listening,
for --xds once the serving mode becomes SERVING (which needs the server
Listener "grpc/server?xds.resource.listening_address=<addr>" from the
management server). Serving mode changes and errors are logged on stderr.
SIGTERM/SIGINT: graceful stop (at most --grace), exit 0.

Flags:
`

type server struct {
	name     string
	failCode codes.Code // codes.OK: none

	mu       sync.Mutex
	failSeen map[string]int
}

func (s *server) Echo(ctx context.Context, req *wrapperspb.StringValue) (*structpb.Struct, error) {
	md, _ := metadata.FromIncomingContext(ctx)
	get := func(k string) string {
		if v := md.Get(k); len(v) > 0 {
			return v[0]
		}
		return ""
	}
	_ = grpc.SetTrailer(ctx, metadata.Pairs(hdrBackend, s.name))

	if v := get(hdrFailFirstN); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			return nil, status.Errorf(codes.InvalidArgument, "%s: bad %s %q", s.name, hdrFailFirstN, v)
		}
		key := get(hdrFailKey)
		s.mu.Lock()
		seen := s.failSeen[key]
		s.failSeen[key] = seen + 1
		s.mu.Unlock()
		if seen < n {
			return nil, status.Errorf(codes.Unavailable, "%s: injected failure %d/%d for key %q", s.name, seen+1, n, key)
		}
	}
	if v := get(hdrSleep); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			return nil, status.Errorf(codes.InvalidArgument, "%s: bad %s %q", s.name, hdrSleep, v)
		}
		t := time.NewTimer(d)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return nil, status.FromContextError(ctx.Err()).Err()
		}
	}
	if s.failCode != codes.OK {
		return nil, status.Errorf(s.failCode, "%s: --fail-code %s", s.name, s.failCode)
	}
	if v := get(hdrFailCode); v != "" {
		c, err := parseCode(v)
		if err != nil {
			return nil, status.Errorf(codes.InvalidArgument, "%s: bad %s: %v", s.name, hdrFailCode, err)
		}
		if c != codes.OK {
			return nil, status.Errorf(c, "%s: %s %s", s.name, hdrFailCode, c)
		}
	}

	_ = grpc.SetHeader(ctx, metadata.Pairs(hdrBackend, s.name))
	fields := map[string]any{
		"name":    s.name,
		"message": req.GetValue(),
	}
	if a := md.Get(":authority"); len(a) > 0 {
		fields["authority"] = a[0]
	}
	if p, ok := peer.FromContext(ctx); ok && p.Addr != nil {
		fields["peer"] = p.Addr.String()
		fields["peer_identity"] = peerIdentity(p)
	}
	return structpb.NewStruct(fields)
}

// grpcServer is what both grpc.Server and xds.GRPCServer provide.
type grpcServer interface {
	RegisterService(*grpc.ServiceDesc, any)
	Serve(net.Listener) error
	Stop()
	GracefulStop()
}

func runServer(args []string) int {
	fs := flag.NewFlagSet("server", flag.ContinueOnError)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), serverUsage)
		fs.PrintDefaults()
	}
	hostname, _ := os.Hostname()
	name := fs.String("name", hostname, "backend name reported in responses")
	listen := fs.String("listen", "127.0.0.1:0", "listen address host:port")
	useXDS := fs.Bool("xds", false, "serve with xds.NewGRPCServer (needs a server Listener from the management server)")
	failCode := fs.String("fail-code", "", "fail every RPC with this gRPC code (name or number)")
	grace := fs.Duration("grace", 2*time.Second, "graceful stop timeout on SIGTERM")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(os.Stderr, "grpcecho server: unexpected arguments %q\n", fs.Args())
		return 2
	}
	srv := &server{name: *name, failSeen: map[string]int{}}
	if *failCode != "" {
		c, err := parseCode(*failCode)
		if err != nil {
			fmt.Fprintf(os.Stderr, "grpcecho server: --fail-code: %v\n", err)
			return 2
		}
		srv.failCode = c
	}

	lis, err := net.Listen("tcp", *listen)
	if err != nil {
		fmt.Fprintf(os.Stderr, "grpcecho server: %v\n", err)
		return 1
	}
	addr := lis.Addr().String()

	var gs grpcServer
	if *useXDS {
		creds, err := xdscreds.NewServerCredentials(xdscreds.ServerOptions{FallbackCreds: insecure.NewCredentials()})
		if err != nil {
			fmt.Fprintf(os.Stderr, "grpcecho server: xds credentials: %v\n", err)
			return 1
		}
		var once sync.Once
		modeCB := xds.ServingModeCallback(func(a net.Addr, args xds.ServingModeChangeArgs) {
			fmt.Fprintf(os.Stderr, "grpcecho server %s: serving mode on %s: %s (err: %v)\n", *name, a, args.Mode, args.Err)
			if args.Mode == connectivity.ServingModeServing {
				once.Do(func() { fmt.Fprintf(os.Stdout, "READY %s\n", addr) })
			}
		})
		xs, err := xds.NewGRPCServer(grpc.Creds(creds), modeCB)
		if err != nil {
			fmt.Fprintf(os.Stderr, "grpcecho server: xds server (is GRPC_XDS_BOOTSTRAP_CONFIG or GRPC_XDS_BOOTSTRAP set?): %v\n", err)
			return 1
		}
		gs = xs
		fmt.Fprintf(os.Stderr, "grpcecho server %s: listening on %s, waiting for xDS Listener %q\n", *name, addr, "grpc/server?xds.resource.listening_address="+addr)
	} else {
		gs = grpc.NewServer()
	}
	gs.RegisterService(&echoServiceDesc, srv)

	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT)
	serveErr := make(chan error, 1)
	go func() { serveErr <- gs.Serve(lis) }()
	if !*useXDS {
		fmt.Fprintf(os.Stdout, "READY %s\n", addr)
	}

	select {
	case err := <-serveErr:
		fmt.Fprintf(os.Stderr, "grpcecho server: serve: %v\n", err)
		return 1
	case sig := <-sigs:
		fmt.Fprintf(os.Stderr, "grpcecho server %s: %v, stopping\n", *name, sig)
	}
	done := make(chan struct{})
	go func() { gs.GracefulStop(); close(done) }()
	select {
	case <-done:
	case <-time.After(*grace):
		gs.Stop()
	}
	return 0
}
