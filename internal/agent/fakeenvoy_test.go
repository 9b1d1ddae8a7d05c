package agent

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
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

// The stand-in Envoy: the test binary re-executed with fakeEnvoyEnv set to
// a directory where it records what happens to it. There is no Envoy
// binary here; the stand-in does what the agent relies on Envoy for: it
// reads the bootstrap it is given, serves the admin port named there
// (drain_listeners), fetches its certificate over the bootstrap's SDS
// socket, and runs a delta ADS stream over the bootstrap's xDS socket,
// ACKing what it gets (listeners only once the test creates the file
// fakeEnvoyGoAck in the directory).
const (
	fakeEnvoyEnv = "LOOM_TEST_FAKE_ENVOY"
	// fakeEnvoyExitEnv makes the stand-in exit with that status right after
	// recording its arguments.
	fakeEnvoyExitEnv = "LOOM_TEST_FAKE_ENVOY_EXIT"

	fakeEnvoyArgs      = "args.json"
	fakeEnvoyDrain     = "drain"      // the drain_listeners query, then the time
	fakeEnvoySIGTERM   = "sigterm"    // the time SIGTERM arrived
	fakeEnvoySecret    = "secret-uri" // the URI SAN of the SDS "default" certificate
	fakeEnvoyLDSAcked  = "lds-acked"
	fakeEnvoyGoAck     = "go-ack"
	fakeEnvoyFailure   = "failure"
	fakeEnvoyAdminPost = "/drain_listeners"
)

func runFakeEnvoy(args []string) int {
	dir := os.Getenv(fakeEnvoyEnv)
	record := func(name, content string) {
		_ = writeFileAtomic(filepath.Join(dir, name), []byte(content), 0o644)
	}
	fail := func(err error) int {
		record(fakeEnvoyFailure, err.Error())
		fmt.Fprintln(os.Stderr, "fake envoy:", err)
		return 3
	}
	data, _ := json.Marshal(args)
	record(fakeEnvoyArgs, string(data))
	if code := os.Getenv(fakeEnvoyExitEnv); code != "" {
		n, _ := strconv.Atoi(code)
		return n
	}
	terms := make(chan os.Signal, 1)
	signal.Notify(terms, syscall.SIGTERM)

	b, err := fakeEnvoyBootstrap(args)
	if err != nil {
		return fail(err)
	}
	admin := b.GetAdmin().GetAddress().GetSocketAddress()
	lis, err := net.Listen("tcp", net.JoinHostPort(admin.GetAddress(), strconv.Itoa(int(admin.GetPortValue()))))
	if err != nil {
		return fail(fmt.Errorf("admin: %w", err))
	}
	mux := http.NewServeMux()
	mux.HandleFunc(fakeEnvoyAdminPost, func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost {
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		record(fakeEnvoyDrain, r.URL.RawQuery+"\n"+strconv.FormatInt(time.Now().UnixNano(), 10))
		_, _ = fmt.Fprintln(w, "OK")
	})
	go func() { _ = http.Serve(lis, mux) }()

	pipes := map[string]string{}
	for _, c := range b.GetStaticResources().GetClusters() {
		if lbs := c.GetLoadAssignment().GetEndpoints(); len(lbs) > 0 {
			pipes[c.GetName()] = lbs[0].GetLbEndpoints()[0].GetEndpoint().GetAddress().GetPipe().GetPath()
		}
	}
	errs := make(chan error, 2)
	go func() {
		uri, err := fakeEnvoySDS(pipes["sds-grpc"])
		if err == nil {
			record(fakeEnvoySecret, uri)
		}
		errs <- err
	}()
	go func() {
		errs <- fakeEnvoyADS(pipes[xdsClusterName], b, func() bool {
			_, err := os.Stat(filepath.Join(dir, fakeEnvoyGoAck))
			return err == nil
		}, func() { record(fakeEnvoyLDSAcked, "yes") })
	}()
	for {
		select {
		case <-terms:
			record(fakeEnvoySIGTERM, strconv.FormatInt(time.Now().UnixNano(), 10))
			return 0
		case err := <-errs:
			if err != nil {
				return fail(err)
			}
		}
	}
}

func fakeEnvoyBootstrap(args []string) (*bootstrapv3.Bootstrap, error) {
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
	return b, b.ValidateAll()
}

func dialPipe(path string) (*grpc.ClientConn, error) {
	return grpc.NewClient("unix://"+path, grpc.WithTransportCredentials(insecure.NewCredentials()))
}

// fakeEnvoySDS fetches the workload certificate as Envoy's SDS client and
// returns its URI SAN.
func fakeEnvoySDS(path string) (string, error) {
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
	if err := stream.Send(&discoveryv3.DiscoveryRequest{TypeUrl: resourcev3.SecretType, ResourceNames: []string{SecretWorkload}}); err != nil {
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
	return "", fmt.Errorf("SDS: no certificate %q with one URI SAN", SecretWorkload)
}

// fakeEnvoyADS subscribes to clusters and listeners over delta ADS as Envoy
// does and ACKs every response, listeners once mayAckListeners.
func fakeEnvoyADS(path string, b *bootstrapv3.Bootstrap, mayAckListeners func() bool, ackedListeners func()) error {
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
		if resp.GetTypeUrl() == resourcev3.ListenerType {
			for !mayAckListeners() {
				time.Sleep(10 * time.Millisecond)
			}
			ackedListeners() // recorded before the ACK leaves, which may make the agent ready
		}
		if err := stream.Send(&discoveryv3.DeltaDiscoveryRequest{TypeUrl: resp.GetTypeUrl(), ResponseNonce: resp.GetNonce()}); err != nil {
			return fmt.Errorf("ADS: %w", err)
		}
	}
}
