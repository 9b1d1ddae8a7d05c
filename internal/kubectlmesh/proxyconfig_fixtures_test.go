package kubectlmesh

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"math/big"
	"net/url"
	"testing"
	"time"

	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	endpointv3 "github.com/envoyproxy/go-control-plane/envoy/config/endpoint/v3"
	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	tlsv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/transport_sockets/tls/v3"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

const echoNode = "sidecar~10.89.0.5~echo-v1-7d9f.demo~demo.svc.cluster.local"

// resourceJSON renders a resource as pkg/xds's debug handler does: an Any, with proto names.
func resourceJSON(t *testing.T, m proto.Message) json.RawMessage {
	t.Helper()
	a, err := anypb.New(m)
	if err != nil {
		t.Fatal(err)
	}
	b, err := protojson.MarshalOptions{UseProtoNames: true}.Marshal(a)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// testCert is a certificate with fixed metadata (its key is random and never shown).
func testCert(t *testing.T, cn string, spiffe string, parent *x509.Certificate, parentKey *ecdsa.PrivateKey) (*x509.Certificate, *ecdsa.PrivateKey, []byte) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(7), Subject: pkix.Name{Organization: []string{"cluster.local"}, CommonName: cn},
		NotBefore: time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC), NotAfter: time.Date(2026, 12, 2, 0, 0, 0, 0, time.UTC),
	}
	if spiffe != "" {
		u, _ := url.Parse(spiffe)
		tmpl.URIs = []*url.URL{u}
	} else {
		tmpl.IsCA, tmpl.BasicConstraintsValid, tmpl.KeyUsage = true, true, x509.KeyUsageCertSign
		tmpl.NotAfter = time.Date(2036, 11, 29, 10, 0, 0, 0, time.UTC)
	}
	if parent == nil {
		parent, parentKey = tmpl, key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, &key.PublicKey, parentKey)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	return cert, key, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}

// echoResources is what loom discovery serves the echo pod's proxy, by type URL.
func echoResources(t *testing.T) map[string][]proto.Message {
	t.Helper()
	echo := "outbound|80||echo.demo.svc.cluster.local"
	cluster := &clusterv3.Cluster{
		Name: echo, ClusterDiscoveryType: &clusterv3.Cluster_Type{Type: clusterv3.Cluster_EDS},
		EdsClusterConfig: &clusterv3.Cluster_EdsClusterConfig{ServiceName: echo},
		LbPolicy:         clusterv3.Cluster_RING_HASH,
		TransportSocket:  &corev3.TransportSocket{Name: "envoy.transport_sockets.tls"},
	}
	blackhole := &clusterv3.Cluster{Name: "BlackHoleCluster", ClusterDiscoveryType: &clusterv3.Cluster_Type{Type: clusterv3.Cluster_STATIC}}
	inbound := &listenerv3.Listener{
		Name:         "virtualInbound",
		Address:      &corev3.Address{Address: &corev3.Address_SocketAddress{SocketAddress: &corev3.SocketAddress{Address: "0.0.0.0", PortSpecifier: &corev3.SocketAddress_PortValue{PortValue: 15006}}}},
		FilterChains: []*listenerv3.FilterChain{{Name: "inbound|8080||"}, {Name: "passthrough"}},
	}
	api := &listenerv3.Listener{Name: "echo.demo.svc.cluster.local:80", ApiListener: &listenerv3.ApiListener{}}
	routes := &routev3.RouteConfiguration{Name: "echo.demo.svc.cluster.local:80", VirtualHosts: []*routev3.VirtualHost{{
		Name: "echo.demo.svc.cluster.local:80", Domains: []string{"echo.demo.svc.cluster.local", "echo.demo", "echo"},
		Routes: []*routev3.Route{{Name: "v2"}, {Name: "default"}},
	}}}
	endpoint := func(ip string, weight uint32) *endpointv3.LbEndpoint {
		return &endpointv3.LbEndpoint{
			HostIdentifier: &endpointv3.LbEndpoint_Endpoint{Endpoint: &endpointv3.Endpoint{Address: &corev3.Address{Address: &corev3.Address_SocketAddress{
				SocketAddress: &corev3.SocketAddress{Address: ip, PortSpecifier: &corev3.SocketAddress_PortValue{PortValue: 8080}}}}}},
			HealthStatus:        corev3.HealthStatus_HEALTHY,
			LoadBalancingWeight: wrapperspb.UInt32(weight),
		}
	}
	cla := &endpointv3.ClusterLoadAssignment{ClusterName: echo, Endpoints: []*endpointv3.LocalityLbEndpoints{{
		Locality:    &corev3.Locality{Region: "local", Zone: "a"},
		LbEndpoints: []*endpointv3.LbEndpoint{endpoint("10.89.0.5", 1), endpoint("10.89.0.6", 3)},
	}}}
	root, rootKey, rootPEM := testCert(t, "Loom root CA", "", nil, nil)
	_, _, leafPEM := testCert(t, "", "spiffe://cluster.local/ns/demo/sa/echo", root, rootKey)
	inline := func(b []byte) *corev3.DataSource {
		return &corev3.DataSource{Specifier: &corev3.DataSource_InlineBytes{InlineBytes: b}}
	}
	workload := &tlsv3.Secret{Name: "default", Type: &tlsv3.Secret_TlsCertificate{TlsCertificate: &tlsv3.TlsCertificate{
		CertificateChain: inline(append(leafPEM, rootPEM...)),
		// The debug handler redacts keys; the plugin must not show one even when sent one.
		PrivateKey: inline([]byte("-----BEGIN PRIVATE KEY-----\nTU9DSyBLRVk=\n-----END PRIVATE KEY-----\n")),
	}}}
	rootCA := &tlsv3.Secret{Name: "ROOTCA", Type: &tlsv3.Secret_ValidationContext{ValidationContext: &tlsv3.CertificateValidationContext{TrustedCa: inline(rootPEM)}}}

	return map[string][]proto.Message{
		configKinds["clusters"].typeURL:  {cluster, blackhole},
		configKinds["listeners"].typeURL: {api, inbound},
		configKinds["routes"].typeURL:    {routes},
		configKinds["endpoints"].typeURL: {cla},
		configKinds["secrets"].typeURL:   {workload, rootCA},
	}
}

// echoConfig is what loom discovery holds for the echo pod's proxy, per type URL: the
// resources of two streams (gRPC opens one per channel target), which repeat some.
func echoConfig(t *testing.T) []map[string][]json.RawMessage {
	t.Helper()
	first := map[string][]json.RawMessage{}
	for url, msgs := range echoResources(t) {
		for _, m := range msgs {
			first[url] = append(first[url], resourceJSON(t, m))
		}
	}
	second := map[string][]json.RawMessage{
		configKinds["clusters"].typeURL:  first[configKinds["clusters"].typeURL][:1],
		configKinds["listeners"].typeURL: first[configKinds["listeners"].typeURL][:1],
	}
	return []map[string][]json.RawMessage{first, second}
}

// configDumpBody is /debug/config_dump's answer for the streams' resources (pkg/xds's shape).
func configDumpBody(t *testing.T, node string, streams []map[string][]json.RawMessage) []byte {
	t.Helper()
	type dumpedType struct {
		AckedVersion string            `json:"ackedVersion"`
		Resources    []json.RawMessage `json:"resources"`
	}
	var out []map[string]any
	for i, s := range streams {
		types := map[string]dumpedType{}
		for url, res := range s {
			types[url] = dumpedType{AckedVersion: "3", Resources: res}
		}
		out = append(out, map[string]any{"stream": i + 1, "view": "v", "kind": "sotw", "types": types})
	}
	b, err := json.Marshal(map[string]any{"node": node, "streams": out})
	if err != nil {
		t.Fatal(err)
	}
	return b
}
