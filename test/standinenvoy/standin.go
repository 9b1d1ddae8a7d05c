// Package standinenvoy is a stand-in for Envoy where no Envoy binary exists: it does what
// `loom agent` relies on Envoy for. It reads the bootstrap it is given (-c) and validates
// it, serves the admin address named there (POST /drain_listeners, GET /ready), fetches the
// workload certificate over the bootstrap's SDS socket, and runs a delta ADS stream over the
// bootstrap's xDS socket, subscribing to clusters and listeners and ACKing every response.
// Of the bootstrap's static listeners it serves the HTTP routes to static clusters (the
// readiness and stats ports); it routes no other traffic.
package standinenvoy

import (
	"context"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"

	bootstrapv3 "github.com/envoyproxy/go-control-plane/envoy/config/bootstrap/v3"
	tlsv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/transport_sockets/tls/v3"
	discoveryv3 "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	secretv3 "github.com/envoyproxy/go-control-plane/envoy/service/secret/v3"
	resourcev3 "github.com/envoyproxy/go-control-plane/pkg/resource/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/encoding/protojson"
)

// WorkloadSecret is the SDS resource Istio's proxies ask for their own certificate.
const WorkloadSecret = "default"

// Hooks tell the caller what happens; every one is optional.
type Hooks struct {
	// StaticListeners serves the bootstrap's static listeners (their ports are fixed: a test
	// running several stand-ins on one host leaves them off).
	StaticListeners bool
	// Drained is called with the query of each POST /drain_listeners.
	Drained func(query string)
	// Certificate is called with the URI SAN of the SDS workload certificate.
	Certificate func(uri string)
	// MayAckListeners holds the listeners' ACK until it returns true.
	MayAckListeners func() bool
	// Acked is called before each ACK leaves, with the type and the names received.
	Acked func(typeURL string, names []string)
}

// Run runs the stand-in with Envoy's command line until SIGTERM (nil) or a failure.
func Run(args []string, h Hooks) error {
	terms := make(chan os.Signal, 1)
	signal.Notify(terms, syscall.SIGTERM)
	defer signal.Stop(terms)

	b, err := readBootstrap(args)
	if err != nil {
		return err
	}
	if err := serveAdmin(b, h); err != nil {
		return err
	}
	if h.StaticListeners {
		if err := serveStaticListeners(b); err != nil {
			return err
		}
	}
	ads, sds, err := pipes(b)
	if err != nil {
		return err
	}
	errs := make(chan error, 2)
	go func() {
		uri, err := fetchCertificate(sds)
		if err == nil && h.Certificate != nil {
			h.Certificate(uri)
		}
		errs <- err
	}()
	go func() { errs <- subscribe(ads, b, h) }()
	for {
		select {
		case <-terms:
			return nil
		case err := <-errs:
			if err != nil {
				return err
			}
		}
	}
}

func readBootstrap(args []string) (*bootstrapv3.Bootstrap, error) {
	path := ""
	for i, a := range args {
		if a == "-c" && i+1 < len(args) {
			path = args[i+1]
		}
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("bootstrap (-c): %w", err)
	}
	b := &bootstrapv3.Bootstrap{}
	if err := protojson.Unmarshal(data, b); err != nil {
		return nil, fmt.Errorf("bootstrap %s: %w", path, err)
	}
	if err := b.ValidateAll(); err != nil {
		return nil, fmt.Errorf("bootstrap %s: %w", path, err)
	}
	return b, nil
}

func serveAdmin(b *bootstrapv3.Bootstrap, h Hooks) error {
	admin := b.GetAdmin().GetAddress().GetSocketAddress()
	lis, err := net.Listen("tcp", net.JoinHostPort(admin.GetAddress(), strconv.Itoa(int(admin.GetPortValue()))))
	if err != nil {
		return fmt.Errorf("admin: %w", err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /drain_listeners", func(w http.ResponseWriter, r *http.Request) {
		if h.Drained != nil {
			h.Drained(r.URL.RawQuery)
		}
		_, _ = fmt.Fprintln(w, "OK")
	})
	mux.HandleFunc("GET /ready", func(w http.ResponseWriter, _ *http.Request) { _, _ = fmt.Fprintln(w, "LIVE") })
	go func() { _ = (&http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}).Serve(lis) }()
	return nil
}

// pipes finds the Unix sockets of the ADS cluster and of the other (SDS) static cluster.
func pipes(b *bootstrapv3.Bootstrap) (ads, sds string, err error) {
	adsCluster := ""
	if services := b.GetDynamicResources().GetAdsConfig().GetGrpcServices(); len(services) > 0 {
		adsCluster = services[0].GetEnvoyGrpc().GetClusterName()
	}
	for _, c := range b.GetStaticResources().GetClusters() {
		lbs := c.GetLoadAssignment().GetEndpoints()
		if len(lbs) == 0 || len(lbs[0].GetLbEndpoints()) == 0 {
			continue
		}
		path := lbs[0].GetLbEndpoints()[0].GetEndpoint().GetAddress().GetPipe().GetPath()
		switch {
		case path == "":
		case c.GetName() == adsCluster:
			ads = path
		default:
			sds = path
		}
	}
	if ads == "" || sds == "" {
		return "", "", errors.New("bootstrap: no ADS and SDS clusters on Unix sockets")
	}
	return ads, sds, nil
}

func dialPipe(path string) (*grpc.ClientConn, error) {
	return grpc.NewClient("unix://"+path, grpc.WithTransportCredentials(insecure.NewCredentials()))
}

// fetchCertificate fetches the workload certificate as Envoy's SDS client and returns its
// URI SAN.
func fetchCertificate(path string) (string, error) {
	conn, err := dialPipe(path)
	if err != nil {
		return "", err
	}
	defer func() { _ = conn.Close() }()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	stream, err := secretv3.NewSecretDiscoveryServiceClient(conn).StreamSecrets(ctx)
	if err != nil {
		return "", fmt.Errorf("SDS: %w", err)
	}
	if err := stream.Send(&discoveryv3.DiscoveryRequest{TypeUrl: resourcev3.SecretType, ResourceNames: []string{WorkloadSecret}}); err != nil {
		return "", fmt.Errorf("SDS: %w", err)
	}
	resp, err := stream.Recv()
	if err != nil {
		return "", fmt.Errorf("SDS: %w", err)
	}
	for _, r := range resp.GetResources() {
		s := &tlsv3.Secret{}
		if err := r.UnmarshalTo(s); err != nil {
			return "", err
		}
		block, _ := pem.Decode(s.GetTlsCertificate().GetCertificateChain().GetInlineBytes())
		if block == nil {
			continue
		}
		cert, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return "", err
		}
		if len(cert.URIs) == 1 {
			return cert.URIs[0].String(), nil
		}
	}
	return "", fmt.Errorf("SDS: no certificate %q with one URI SAN", WorkloadSecret)
}

// subscribe subscribes to clusters and listeners over delta ADS as Envoy does and ACKs
// every response.
func subscribe(path string, b *bootstrapv3.Bootstrap, h Hooks) error {
	conn, err := dialPipe(path)
	if err != nil {
		return err
	}
	defer func() { _ = conn.Close() }()
	stream, err := discoveryv3.NewAggregatedDiscoveryServiceClient(conn).DeltaAggregatedResources(context.Background())
	if err != nil {
		return fmt.Errorf("ADS: %w", err)
	}
	if err := stream.Send(&discoveryv3.DeltaDiscoveryRequest{Node: b.GetNode(), TypeUrl: resourcev3.ClusterType}); err != nil {
		return fmt.Errorf("ADS: %w", err)
	}
	if err := stream.Send(&discoveryv3.DeltaDiscoveryRequest{TypeUrl: resourcev3.ListenerType}); err != nil {
		return fmt.Errorf("ADS: %w", err)
	}
	for {
		resp, err := stream.Recv()
		if err != nil {
			return fmt.Errorf("ADS: %w", err)
		}
		if resp.GetTypeUrl() == resourcev3.ListenerType && h.MayAckListeners != nil {
			for !h.MayAckListeners() {
				time.Sleep(10 * time.Millisecond)
			}
		}
		if h.Acked != nil {
			names := make([]string, 0, len(resp.GetResources()))
			for _, r := range resp.GetResources() {
				names = append(names, r.GetName())
			}
			h.Acked(resp.GetTypeUrl(), names)
		}
		if err := stream.Send(&discoveryv3.DeltaDiscoveryRequest{TypeUrl: resp.GetTypeUrl(), ResponseNonce: resp.GetNonce()}); err != nil {
			return fmt.Errorf("ADS: %w", err)
		}
	}
}
