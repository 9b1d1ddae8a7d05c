// Command adsclients simulates many Envoy sidecars for the scale benchmark
// (test/bench/scale): M ADS clients in one process, each its own gRPC stream,
// by default each on its own gRPC connection (as M Envoys would be; --conns
// multiplexes them over fewer). Each client follows Envoy's start-up order:
// wildcard CDS; EDS for the EDS clusters it got; once those are warm,
// wildcard LDS; RDS for the route names in the listeners' HTTP connection
// managers. It ACKs every response and never NACKs.
//
// It speaks benchproto on stdin/stdout: it reports when every client has its
// full config, and when every client has seen a marker the driver armed.
// Progress goes to stderr. ADSCLIENTS_CPUPROFILE=<file> writes a CPU profile
// of the whole process (the scale driver passes its environment on).
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"runtime/pprof"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	discoveryv3 "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/stats"
	"google.golang.org/protobuf/types/known/structpb"

	"loom.dev/loom/test/bench/benchproto"
)

type config struct {
	server          string
	clients         int
	conns           int
	delta           bool
	namespace       string
	expectClusters  int
	expectEndpoints int
	istioVersion    string
	clusterID       string
	warmTimeout     time.Duration
}

func main() {
	var cfg config
	flag.StringVar(&cfg.server, "server", "127.0.0.1:15010", "ADS server address (plaintext gRPC)")
	flag.IntVar(&cfg.clients, "clients", 1000, "number of simulated sidecars (one ADS stream each)")
	flag.IntVar(&cfg.conns, "conns", 0, "gRPC connections to spread the streams over; 0 = one per client, as Envoys have")
	flag.BoolVar(&cfg.delta, "delta", false, "use the incremental protocol (DeltaAggregatedResources)")
	flag.StringVar(&cfg.namespace, "namespace", "bench", "namespace of the simulated workloads and of the services to expect")
	flag.IntVar(&cfg.expectClusters, "expect-clusters", 0, "a client has its full config only once it has this many outbound clusters of services in --namespace")
	flag.IntVar(&cfg.expectEndpoints, "expect-endpoints", 1, "... each with at least this many endpoints")
	flag.StringVar(&cfg.istioVersion, "istio-version", "1.31.0", "ISTIO_VERSION node metadata")
	flag.StringVar(&cfg.clusterID, "cluster-id", "Kubernetes", "CLUSTER_ID node metadata")
	flag.DurationVar(&cfg.warmTimeout, "warm-timeout", 15*time.Second, "like Envoy's initial_fetch_timeout: request LDS after this long even if some EDS clusters got no endpoints")
	flag.Parse()
	if cfg.conns <= 0 || cfg.conns > cfg.clients {
		cfg.conns = cfg.clients
	}

	ctx, cancel := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer cancel()
	r := newRunner(cfg)
	if path := os.Getenv("ADSCLIENTS_CPUPROFILE"); path != "" {
		r.stopProfile = startCPUProfile(path)
	}
	if err := r.run(ctx); err != nil {
		r.emit(benchproto.Event{Event: benchproto.EventError, Message: err.Error()})
		fmt.Fprintln(os.Stderr, "adsclients:", err)
		os.Exit(1)
	}
}

// runner owns all clients and the line protocol.
type runner struct {
	cfg     config
	out     *json.Encoder
	outMu   sync.Mutex
	clients []*client
	parsed  *parseCache

	bytes        atomic.Int64
	sent         sentCounts
	responses    atomic.Int64
	acks         atomic.Int64
	reconnects   atomic.Int64
	streamErrors atomic.Int64

	syncedCount atomic.Int64
	syncTimes   []atomic.Int64

	markersMu sync.RWMutex
	markers   map[string]*marker

	stopProfile func()
}

func newRunner(cfg config) *runner {
	return &runner{
		cfg: cfg, out: json.NewEncoder(os.Stdout), parsed: newParseCache(),
		syncTimes: make([]atomic.Int64, cfg.clients), markers: map[string]*marker{},
	}
}

func (r *runner) emit(e benchproto.Event) {
	r.outMu.Lock()
	defer r.outMu.Unlock()
	_ = r.out.Encode(e)
}

func (r *runner) counters(e benchproto.Event) benchproto.Event {
	e.BytesReceived = r.bytes.Load()
	e.Requests, e.BytesSent = r.sent.messages.Load(), r.sent.bytes.Load()
	e.Responses = r.responses.Load()
	e.ACKs = r.acks.Load()
	e.Reconnects = r.reconnects.Load()
	e.StreamErrors = r.streamErrors.Load()
	e.CPUSeconds = selfCPUSeconds()
	return e
}

// byteCounter counts the xDS payload bytes received and the requests sent on every connection.
type byteCounter struct {
	n    *atomic.Int64
	sent *sentCounts
}

type sentCounts struct{ messages, bytes atomic.Int64 }

func (byteCounter) TagRPC(ctx context.Context, _ *stats.RPCTagInfo) context.Context { return ctx }
func (byteCounter) TagConn(ctx context.Context, _ *stats.ConnTagInfo) context.Context {
	return ctx
}
func (byteCounter) HandleConn(context.Context, stats.ConnStats) {}
func (b byteCounter) HandleRPC(_ context.Context, s stats.RPCStats) {
	switch p := s.(type) {
	case *stats.InPayload:
		b.n.Add(int64(p.WireLength))
	case *stats.OutPayload:
		b.sent.messages.Add(1)
		b.sent.bytes.Add(int64(p.WireLength))
	}
}

func (r *runner) run(ctx context.Context) error {
	conns := make([]*grpc.ClientConn, r.cfg.conns)
	for i := range conns {
		cc, err := grpc.NewClient(r.cfg.server,
			grpc.WithTransportCredentials(insecure.NewCredentials()),
			grpc.WithStatsHandler(byteCounter{&r.bytes, &r.sent}),
			grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(1<<30), grpc.ForceCodecV2(newResponseCodec())),
			// Envoy's defaults for HTTP/2 upstreams: 256 MiB windows.
			grpc.WithInitialWindowSize(1<<28), grpc.WithInitialConnWindowSize(1<<28),
			grpc.WithReadBufferSize(64<<10),
		)
		if err != nil {
			return err
		}
		defer func() { _ = cc.Close() }()
		conns[i] = cc
	}
	r.clients = make([]*client, r.cfg.clients)
	for i := range r.clients {
		r.clients[i] = newClient(r, i)
	}
	go r.commands()
	go r.progress(ctx)

	start := time.Now()
	r.emit(benchproto.Event{Event: benchproto.EventStarted, T: start.UnixNano()})
	var wg sync.WaitGroup
	for i, c := range r.clients {
		wg.Go(func() { c.run(ctx, discoveryv3.NewAggregatedDiscoveryServiceClient(conns[i%len(conns)])) })
	}
	wg.Wait()
	return nil
}

// synced records a client's cold sync and reports once all are in.
func (r *runner) synced(c *client, at time.Time) {
	r.syncTimes[c.idx].Store(at.UnixNano())
	if int(r.syncedCount.Add(1)) == len(r.clients) {
		times := make([]int64, len(r.clients))
		for i := range times {
			times[i] = r.syncTimes[i].Load()
		}
		r.emit(r.counters(benchproto.Event{Event: benchproto.EventSynced, T: time.Now().UnixNano(), Times: times}))
	}
}

func (r *runner) progress(ctx context.Context) {
	t := time.NewTicker(5 * time.Second)
	defer t.Stop()
	start := time.Now()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			fmt.Fprintf(os.Stderr, "adsclients: %4.0fs synced %d/%d, %d responses, %.1f MB, %d reconnects, %d stream errors\n",
				time.Since(start).Seconds(), r.syncedCount.Load(), len(r.clients), r.responses.Load(),
				float64(r.bytes.Load())/1e6, r.reconnects.Load(), r.streamErrors.Load())
		}
	}
}

// commands reads the driver's commands until stdin closes, then stops the process.
func (r *runner) commands() {
	sc := bufio.NewScanner(os.Stdin)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var cmd benchproto.Command
		if err := json.Unmarshal(sc.Bytes(), &cmd); err != nil {
			r.emit(benchproto.Event{Event: benchproto.EventError, Message: "bad command: " + err.Error()})
			continue
		}
		switch cmd.Cmd {
		case benchproto.CmdExpect:
			if err := r.arm(cmd); err != nil {
				r.emit(benchproto.Event{Event: benchproto.EventError, ID: cmd.ID, Message: err.Error()})
				continue
			}
			r.emit(r.counters(benchproto.Event{Event: benchproto.EventArmed, ID: cmd.ID, T: time.Now().UnixNano()}))
		case benchproto.CmdReport:
			r.markersMu.RLock()
			m := r.markers[cmd.ID]
			r.markersMu.RUnlock()
			if m == nil {
				r.emit(benchproto.Event{Event: benchproto.EventError, ID: cmd.ID, Message: "unknown marker"})
				continue
			}
			r.reportMarker(m)
		case benchproto.CmdStats:
			r.emit(r.counters(benchproto.Event{Event: benchproto.EventStats, T: time.Now().UnixNano()}))
		default:
			r.emit(benchproto.Event{Event: benchproto.EventError, Message: "unknown command " + cmd.Cmd})
		}
	}
	if r.stopProfile != nil {
		r.stopProfile()
	}
	os.Exit(0)
}

// startCPUProfile profiles the process into path (to see where the clients'
// own CPU goes) until the returned function is called.
func startCPUProfile(path string) func() {
	f, err := os.Create(path)
	if err == nil {
		err = pprof.StartCPUProfile(f)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "adsclients: cpu profile:", err)
		return nil
	}
	return func() { pprof.StopCPUProfile(); _ = f.Close() }
}

func nodeFor(cfg config, i int) *corev3.Node {
	ip := fmt.Sprintf("10.2.%d.%d", i/250, i%250+1)
	name := fmt.Sprintf("client-%d", i)
	meta, err := structpb.NewStruct(map[string]any{
		"NAMESPACE":     cfg.namespace,
		"LABELS":        map[string]any{"app": "client"},
		"ISTIO_VERSION": cfg.istioVersion,
		"CLUSTER_ID":    cfg.clusterID,
		"INSTANCE_IPS":  ip,
		"NAME":          name,
		"POD_PORTS":     "[]",
	})
	if err != nil {
		panic(err)
	}
	return &corev3.Node{
		Id:       fmt.Sprintf("sidecar~%s~%s.%s~%s.svc.cluster.local", ip, name, cfg.namespace, cfg.namespace),
		Cluster:  "client." + cfg.namespace,
		Metadata: meta,
	}
}
