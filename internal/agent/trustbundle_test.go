package agent

import (
	"bytes"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	discoveryv3 "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	"google.golang.org/protobuf/types/known/anypb"
	meshv1alpha1 "istio.io/api/mesh/v1alpha1"
	"k8s.io/utils/clock"
)

// bundleServer is the discovery side of the trust bundle stream: it sends each bundle in
// turn and records how the agent answered each.
type bundleServer struct {
	discoveryv3.UnimplementedAggregatedDiscoveryServiceServer
	bundles [][]string
	first   chan *discoveryv3.DiscoveryRequest
	answers chan *discoveryv3.DiscoveryRequest
}

func (s *bundleServer) StreamAggregatedResources(stream discoveryv3.AggregatedDiscoveryService_StreamAggregatedResourcesServer) error {
	req, err := stream.Recv()
	if err != nil {
		return err
	}
	s.first <- req
	for i, b := range s.bundles {
		res, err := anypb.New(&meshv1alpha1.ProxyConfig{CaCertificatesPem: b})
		if err != nil {
			return err
		}
		v := string(rune('1' + i))
		if err := stream.Send(&discoveryv3.DiscoveryResponse{TypeUrl: ProxyConfigType, VersionInfo: "v" + v, Nonce: "n" + v, Resources: []*anypb.Any{res}}); err != nil {
			return err
		}
		answer, err := stream.Recv()
		if err != nil {
			return err
		}
		s.answers <- answer
	}
	<-stream.Context().Done()
	return nil
}

// TestTrustBundleFollowedAndAcknowledged: the agent subscribes to the trust bundle as an
// auxiliary node, writes every bundle it gets to root-cert.pem before it ACKs it, NACKs an
// empty one (keeping the last good one), and follows a bundle without the old root.
func TestTrustBundleFollowedAndAcknowledged(t *testing.T) {
	srv := &bundleServer{
		first:   make(chan *discoveryv3.DiscoveryRequest, 1),
		answers: make(chan *discoveryv3.DiscoveryRequest, 3),
	}
	ca := newTestCAWithADS(t, time.Now, srv)
	_, _, second := selfSigned(t, "next mesh root")
	srv.bundles = [][]string{{ca.rootPEM, second}, {}, {second}}
	logs := &logLines{}
	opts := testOptions(t, ca, clock.RealClock{}, logs)
	opts.WatchTrustBundle = true
	startAgent(t, opts)
	rootFile := filepath.Join(opts.OutputDir, RootCertFile)

	first := <-srv.first
	if first.GetTypeUrl() != ProxyConfigType || first.GetNode().GetMetadata().GetFields()["LOOM_TRUST_BUNDLE_ONLY"].GetStringValue() != "true" {
		t.Fatalf("first request: %v", first)
	}
	ack := <-srv.answers
	if ack.GetErrorDetail() != nil || ack.GetVersionInfo() != "v1" || ack.GetResponseNonce() != "n1" {
		t.Fatalf("the two-root bundle: want an ACK of v1/n1, got %v", ack)
	}
	if got := readFile(t, rootFile); !bytes.Contains(got, []byte(second)) || !bytes.Contains(got, []byte(ca.rootPEM)) {
		t.Fatalf("root-cert.pem after the ACK does not hold both roots:\n%s", got)
	}
	nack := <-srv.answers
	if nack.GetErrorDetail() == nil || nack.GetVersionInfo() != "v1" || !strings.Contains(nack.GetErrorDetail().GetMessage(), "ca_certificates_pem is empty") {
		t.Fatalf("the empty bundle: want a NACK keeping v1, got %v", nack)
	}
	if got := readFile(t, rootFile); !bytes.Contains(got, []byte(ca.rootPEM)) {
		t.Fatal("the empty bundle replaced the last good one")
	}
	if ack := <-srv.answers; ack.GetErrorDetail() != nil || ack.GetVersionInfo() != "v3" {
		t.Fatalf("the new root alone: want an ACK of v3, got %v", ack)
	}
	if got, _ := os.ReadFile(rootFile); string(got) != second {
		t.Fatalf("root-cert.pem is not the new root alone:\n%s", got)
	}
}

func TestTrustBundleOfRefusesWhatItCannotTrust(t *testing.T) {
	_, _, root := selfSigned(t, "root")
	key := newECKey(t)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(2), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	leaf := string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
	for name, tc := range map[string]struct {
		resources []*meshv1alpha1.ProxyConfig
		want      string
	}{
		"no resource":  {nil, "0 resources"},
		"two":          {[]*meshv1alpha1.ProxyConfig{{CaCertificatesPem: []string{root}}, {CaCertificatesPem: []string{root}}}, "2 resources"},
		"empty bundle": {[]*meshv1alpha1.ProxyConfig{{}}, "is empty"},
		"not PEM":      {[]*meshv1alpha1.ProxyConfig{{CaCertificatesPem: []string{root, "garbage"}}}, "ca_certificates_pem[1]"},
		"not a CA":     {[]*meshv1alpha1.ProxyConfig{{CaCertificatesPem: []string{root, leaf}}}, "is not a CA"},
		"good":         {[]*meshv1alpha1.ProxyConfig{{CaCertificatesPem: []string{root}}}, ""},
	} {
		t.Run(name, func(t *testing.T) {
			resp := &discoveryv3.DiscoveryResponse{TypeUrl: ProxyConfigType}
			for _, r := range tc.resources {
				a, err := anypb.New(r)
				if err != nil {
					t.Fatal(err)
				}
				resp.Resources = append(resp.Resources, a)
			}
			_, err := trustBundleOf(resp)
			if tc.want == "" && err != nil || tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)) {
				t.Fatalf("trustBundleOf = %v, want %q", err, tc.want)
			}
		})
	}
}
