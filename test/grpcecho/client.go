package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"math"
	"os"
	"os/signal"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	xdscreds "google.golang.org/grpc/credentials/xds"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"

	_ "google.golang.org/grpc/xds" // xds:/// resolver, balancers, filters
)

const clientUsage = `usage: grpcecho client --target TARGET [--n N] [--concurrency C] [--header k=v]...
                       [--timeout D] [--interval D] [--duration D] [--message S]
                       [--wait-for-ready] [--watch]

Calls /loom.test.Echo/Echo on TARGET (e.g. xds:///echo.test:8080, or a plain
host:port) over one channel, from C concurrent workers. Each worker waits
--interval between the starts of its calls. The run stops after N calls (if
--n > 0) or once --duration has passed (if > 0), whichever comes first; with
neither, N is 1 (summary mode) or unbounded (--watch). SIGTERM/SIGINT stop the
run early: calls still in flight are cancelled and left out of the output, and
the process exits 0 after printing.

Summary mode (default) prints ONE JSON object on stdout at the end:
  {"total":N,"ok":K,
   "backends":{"NAME":count,...},        // OK calls by answering server --name
   "failed_backends":{"NAME":count,...}, // non-OK calls whose x-backend trailer names a server
   "codes":{"OK":K,"Unavailable":x,...}, // every call, by gRPC code name (codes.Code.String())
   "errors":{"message":count,...},       // up to 20 distinct non-OK status messages
   "latency_ms":{"p50":..,"p90":..,"p99":..,"max":..},
   "elapsed_ms":..}
--watch prints one JSON line per call as it completes (default --interval 50ms):
  {"t":"<RFC3339Nano completion time>","backend":"NAME","code":"OK","latency_ms":1.23[,"error":"..."]}
("backend" is "" when no server answered, e.g. a client-side deadline).
Exit status: 0 (even if calls failed), 1 if the channel cannot be created, 2 on bad usage.

Flags:
`

type headerFlag []string

func (h *headerFlag) String() string { return strings.Join(*h, ",") }
func (h *headerFlag) Set(v string) error {
	k, _, ok := strings.Cut(v, "=")
	if !ok || strings.TrimSpace(k) == "" {
		return fmt.Errorf("header %q: want k=v", v)
	}
	*h = append(*h, v)
	return nil
}

type result struct {
	end     time.Time
	latency time.Duration
	code    codes.Code
	backend string
	msg     string
	// identities is "server=<server's identity> client=<client's identity as the server saw it>".
	identities string
}

type summary struct {
	Total          int                `json:"total"`
	OK             int                `json:"ok"`
	Backends       map[string]int     `json:"backends"`
	FailedBackends map[string]int     `json:"failed_backends"`
	Codes          map[string]int     `json:"codes"`
	Errors         map[string]int     `json:"errors"`
	LatencyMS      map[string]float64 `json:"latency_ms"`
	ElapsedMS      float64            `json:"elapsed_ms"`
	// Identities counts successful calls by "server=<id> client=<id>": each peer's SPIFFE
	// id from its TLS certificate, or "plaintext".
	Identities map[string]int `json:"identities"`
}

type watchLine struct {
	T         string  `json:"t"`
	Backend   string  `json:"backend"`
	Code      string  `json:"code"`
	LatencyMS float64 `json:"latency_ms"`
	Error     string  `json:"error,omitempty"`
}

func ms(d time.Duration) float64 {
	return math.Round(float64(d)/float64(time.Millisecond)*1000) / 1000
}

func runClient(args []string) int {
	fs := flag.NewFlagSet("client", flag.ContinueOnError)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), clientUsage)
		fs.PrintDefaults()
	}
	target := fs.String("target", "", "gRPC target, e.g. xds:///echo.test:8080 (required)")
	n := fs.Int("n", 0, "number of calls (0: see above)")
	concurrency := fs.Int("concurrency", 1, "concurrent workers")
	var headers headerFlag
	fs.Var(&headers, "header", "request metadata k=v (repeatable)")
	timeout := fs.Duration("timeout", 5*time.Second, "per-call deadline")
	interval := fs.Duration("interval", 0, "per-worker delay between call starts (default 0, or 50ms with --watch)")
	duration := fs.Duration("duration", 0, "run for this long (0: until N calls)")
	message := fs.String("message", "hello", "request message")
	waitForReady := fs.Bool("wait-for-ready", false, "use wait-for-ready call semantics")
	watch := fs.Bool("watch", false, "print one JSON line per call instead of a summary")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(os.Stderr, "grpcecho client: unexpected arguments %q\n", fs.Args())
		return 2
	}
	if *target == "" {
		fmt.Fprintln(os.Stderr, "grpcecho client: --target is required")
		return 2
	}
	if *n < 0 || *concurrency < 1 || *timeout <= 0 || *interval < 0 || *duration < 0 {
		fmt.Fprintln(os.Stderr, "grpcecho client: --n, --interval, --duration must be >= 0, --concurrency and --timeout > 0")
		return 2
	}
	intervalSet := false
	fs.Visit(func(f *flag.Flag) {
		if f.Name == "interval" {
			intervalSet = true
		}
	})
	if *watch && !intervalSet {
		*interval = 50 * time.Millisecond
	}
	if !*watch && *n == 0 && *duration == 0 {
		*n = 1
	}
	md := metadata.MD{}
	for _, h := range headers {
		k, v, _ := strings.Cut(h, "=")
		md.Append(strings.ToLower(strings.TrimSpace(k)), v)
	}

	creds, err := xdscreds.NewClientCredentials(xdscreds.ClientOptions{FallbackCreds: insecure.NewCredentials()})
	if err != nil {
		fmt.Fprintf(os.Stderr, "grpcecho client: xds credentials: %v\n", err)
		return 1
	}
	cc, err := grpc.NewClient(*target, grpc.WithTransportCredentials(creds))
	if err != nil {
		fmt.Fprintf(os.Stderr, "grpcecho client: %v\n", err)
		return 1
	}
	defer func() { _ = cc.Close() }()

	// stopCtx is cancelled by a signal: in-flight calls are cancelled and
	// dropped. The duration only stops new calls.
	stopCtx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	start := time.Now()
	var deadline time.Time
	if *duration > 0 {
		deadline = start.Add(*duration)
	}

	var (
		mu      sync.Mutex
		results []result
		issued  atomic.Int64
		outMu   sync.Mutex
	)
	record := func(r result) {
		if *watch {
			line, _ := json.Marshal(watchLine{
				T:         r.end.UTC().Format(time.RFC3339Nano),
				Backend:   r.backend,
				Code:      r.code.String(),
				LatencyMS: ms(r.latency),
				Error:     r.msg,
			})
			outMu.Lock()
			_, _ = os.Stdout.Write(append(line, '\n'))
			outMu.Unlock()
			return
		}
		mu.Lock()
		results = append(results, r)
		mu.Unlock()
	}
	call := func() {
		ctx, cancel := context.WithTimeout(metadata.NewOutgoingContext(stopCtx, md), *timeout)
		defer cancel()
		var header, trailer metadata.MD
		var server peer.Peer
		opts := []grpc.CallOption{grpc.Header(&header), grpc.Trailer(&trailer), grpc.Peer(&server)}
		if *waitForReady {
			opts = append(opts, grpc.WaitForReady(true))
		}
		t0 := time.Now()
		resp, err := callEcho(ctx, cc, *message, opts...)
		r := result{end: time.Now(), latency: time.Since(t0)}
		if stopCtx.Err() != nil {
			return // interrupted by a signal: not a real outcome
		}
		if err != nil {
			st := status.Convert(err)
			r.code, r.msg = st.Code(), st.Message()
			if v := trailer.Get(hdrBackend); len(v) > 0 {
				r.backend = v[0]
			}
		} else {
			r.code = codes.OK
			r.backend = resp.GetFields()["name"].GetStringValue()
			r.identities = "server=" + peerIdentity(&server) + " client=" + resp.GetFields()["peer_identity"].GetStringValue()
		}
		record(r)
	}

	var wg sync.WaitGroup
	for range *concurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				if stopCtx.Err() != nil {
					return
				}
				if !deadline.IsZero() && !time.Now().Before(deadline) {
					return
				}
				if *n > 0 && issued.Add(1) > int64(*n) {
					return
				}
				t0 := time.Now()
				call()
				if wait := *interval - time.Since(t0); wait > 0 {
					if !deadline.IsZero() && time.Until(deadline) < wait {
						wait = max(time.Until(deadline), 0)
					}
					select {
					case <-time.After(wait):
					case <-stopCtx.Done():
						return
					}
				}
			}
		}()
	}
	wg.Wait()
	if *watch {
		return 0
	}

	s := summary{
		Total:          len(results),
		Backends:       map[string]int{},
		FailedBackends: map[string]int{},
		Codes:          map[string]int{},
		Errors:         map[string]int{},
		Identities:     map[string]int{},
		LatencyMS:      map[string]float64{},
		ElapsedMS:      ms(time.Since(start)),
	}
	lat := make([]time.Duration, 0, len(results))
	for _, r := range results {
		s.Codes[r.code.String()]++
		lat = append(lat, r.latency)
		if r.code == codes.OK {
			s.OK++
			s.Backends[r.backend]++
			s.Identities[r.identities]++
			continue
		}
		if r.backend != "" {
			s.FailedBackends[r.backend]++
		}
		if _, ok := s.Errors[r.msg]; ok || len(s.Errors) < 20 {
			s.Errors[r.msg]++
		}
	}
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	pct := func(p float64) float64 {
		if len(lat) == 0 {
			return 0
		}
		i := int(math.Ceil(p*float64(len(lat)))) - 1
		return ms(lat[min(max(i, 0), len(lat)-1)])
	}
	s.LatencyMS["p50"] = pct(0.50)
	s.LatencyMS["p90"] = pct(0.90)
	s.LatencyMS["p99"] = pct(0.99)
	s.LatencyMS["max"] = pct(1)
	out, _ := json.Marshal(s)
	_, _ = os.Stdout.Write(append(out, '\n'))
	return 0
}
