package translate

import (
	"slices"
	"testing"

	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	resourcev3 "github.com/envoyproxy/go-control-plane/pkg/resource/v3"

	"loom.dev/loom/pkg/model"
)

var (
	grpcClient   = model.Proxy{ID: "grpc", Kind: model.KindGRPC, Namespace: "default"}
	sidecarProxy = model.Proxy{ID: "sidecar", Kind: model.KindSidecar, Namespace: "default"}
)

// reviewsClusters translates the clusters of reviews (and of any
// ServiceEntry given) as proxy sees them.
func reviewsClusters(t *testing.T, proxy model.Proxy, dr string, entries ...*model.ServiceEntry) (Resources, []model.Problem) {
	t.Helper()
	return clustersOfReviews(t, proxy, model.Input{Services: mkMesh()[:1], ServiceEntries: entries}, dr)
}

// clustersOfReviews translates in's outbound clusters for proxy, with dr (if not empty) as the
// DestinationRule of the reviews service; the input itself must raise no problem.
func clustersOfReviews(t *testing.T, proxy model.Proxy, in model.Input, dr string) (Resources, []model.Problem) {
	t.Helper()
	if dr != "" {
		in.DestinationRules = []*model.DestinationRule{mkDR(t, "default", "reviews", dr)}
	}
	snap := model.Build(in)
	if len(snap.Problems()) > 0 {
		t.Fatalf("fixture problems: %v", snap.Problems())
	}
	clusters, assignments, problems := outboundClusters(snap, proxy, snap.ServicesFor(proxy))
	return Resources{resourcev3.ClusterType: clusters, resourcev3.EndpointType: assignments}, problems
}

func TestOutboundClustersGolden(t *testing.T) {
	for _, tc := range []struct {
		name    string
		proxy   model.Proxy
		dr      string
		entries func(t *testing.T) []*model.ServiceEntry
	}{
		{name: "subsets", proxy: grpcClient, dr: `
host: reviews
trafficPolicy:
  loadBalancer: {simple: ROUND_ROBIN}
  portLevelSettings:
  - port: {number: 9080}
    connectionPool: {http: {http2MaxRequests: 100}}
subsets:
- {name: v1, labels: {version: v1}}
- name: v2
  labels: {version: v2}
  trafficPolicy:
    loadBalancer: {consistentHash: {httpHeaderName: x-user, ringHash: {minimumRingSize: 2048}}}
- {name: v9, labels: {version: v9}}`},
		{name: "lb-sidecar", proxy: sidecarProxy, dr: `
host: reviews
trafficPolicy: {loadBalancer: {simple: RANDOM}}
subsets:
- {name: maglev, labels: {version: v1}, trafficPolicy: {loadBalancer: {consistentHash: {useSourceIp: true, maglev: {tableSize: 65537}}}}}
- {name: passthrough, labels: {version: v2}, trafficPolicy: {loadBalancer: {simple: PASSTHROUGH}}}
- {name: lc, labels: {version: v3}, trafficPolicy: {loadBalancer: {simple: LEAST_CONN}}}`},
		{name: "lb-grpc", proxy: grpcClient, dr: `
host: reviews
trafficPolicy: {loadBalancer: {simple: RANDOM}}
subsets:
- {name: maglev, labels: {version: v1}, trafficPolicy: {loadBalancer: {consistentHash: {useSourceIp: true, maglev: {tableSize: 65537}}}}}
- {name: passthrough, labels: {version: v2}, trafficPolicy: {loadBalancer: {simple: PASSTHROUGH}}}`},
		{name: "connection-pool", proxy: sidecarProxy, dr: `
host: reviews
trafficPolicy:
  connectionPool:
    tcp: {maxConnections: 10, connectTimeout: 0.250s, maxConnectionDuration: 3600s, tcpKeepalive: {probes: 3, time: 7200s, interval: 75s}}
    http: {http1MaxPendingRequests: 5, http2MaxRequests: 50, maxRequestsPerConnection: 1, maxRetries: 3, idleTimeout: 30s, h2UpgradePolicy: UPGRADE}`},
		{name: "outlier", proxy: sidecarProxy, dr: `
host: reviews
trafficPolicy:
  outlierDetection:
    consecutive5xxErrors: 7
    consecutiveGatewayErrors: 0
    interval: 5s
    baseEjectionTime: 30s
    maxEjectionPercent: 50
    minHealthPercent: 25
    splitExternalLocalOriginErrors: true
    consecutiveLocalOriginFailures: 2`},
		{name: "tls", proxy: sidecarProxy, dr: `
host: reviews
trafficPolicy: {tls: {mode: SIMPLE, caCertificates: /etc/certs/ca.pem, subjectAltNames: [reviews.example.com, "spiffe://cluster.local/ns/default/sa/reviews"]}}
subsets:
- {name: mutual, labels: {version: v1}, trafficPolicy: {tls: {mode: MUTUAL, clientCertificate: /etc/certs/cert.pem, privateKey: /etc/certs/key.pem, sni: reviews.internal, insecureSkipVerify: true}}}
- {name: system-ca, labels: {version: v2}, trafficPolicy: {tls: {mode: SIMPLE}}}
- {name: mesh, labels: {version: v3}, trafficPolicy: {tls: {mode: ISTIO_MUTUAL}}}
- {name: incomplete, labels: {version: v3}, trafficPolicy: {tls: {mode: MUTUAL}}}`},
		{name: "dns-sidecar", proxy: sidecarProxy, entries: dnsEntries},
		{name: "dns-grpc", proxy: grpcClient, entries: dnsEntries},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var entries []*model.ServiceEntry
			if tc.entries != nil {
				entries = tc.entries(t)
			}
			res, problems := reviewsClusters(t, tc.proxy, tc.dr, entries...)
			assertGolden(t, "cluster/"+tc.name, res, problems)
			if tc.proxy.Kind == model.KindGRPC {
				checkGRPCClusters(t, res)
			}
		})
	}
}

func dnsEntries(t *testing.T) []*model.ServiceEntry {
	return []*model.ServiceEntry{
		mkSE(t, "default", "api", `
hosts: [api.example.com]
location: MESH_EXTERNAL
resolution: DNS
ports: [{number: 443, name: tls, protocol: TLS}]`),
		mkSE(t, "default", "pool", `
hosts: [pool.example.com]
location: MESH_EXTERNAL
resolution: DNS
ports: [{number: 80, name: http}]
endpoints: [{address: a.pool.example.com}, {address: b.pool.example.com, ports: {http: 8080}}]`),
		mkSE(t, "default", "rr", `
hosts: [rr.example.com]
location: MESH_EXTERNAL
resolution: DNS_ROUND_ROBIN
ports: [{number: 80, name: http}]`),
	}
}

// checkGRPCClusters applies the rules gRPC-Go (v1.85, xdsresource's CDS
// and EDS parsing) enforces beyond the proto schema: it NACKs other
// cluster types and load-balancing policies, LOGICAL_DNS clusters without
// exactly one endpoint, localities without an ID, and repeated addresses;
// it ignores localities of weight 0.
func checkGRPCClusters(t *testing.T, res Resources) {
	t.Helper()
	for _, r := range res[resourcev3.ClusterType] {
		c := r.(*clusterv3.Cluster)
		if !slices.Contains([]clusterv3.Cluster_LbPolicy{clusterv3.Cluster_ROUND_ROBIN, clusterv3.Cluster_LEAST_REQUEST, clusterv3.Cluster_RING_HASH}, c.GetLbPolicy()) {
			t.Errorf("cluster %s: gRPC rejects lb policy %v", c.Name, c.GetLbPolicy())
		}
		switch c.GetType() {
		case clusterv3.Cluster_EDS:
			if c.GetEdsClusterConfig().GetEdsConfig().GetAds() == nil {
				t.Errorf("cluster %s: EDS config source is not ADS", c.Name)
			}
		case clusterv3.Cluster_LOGICAL_DNS:
			eps := c.GetLoadAssignment().GetEndpoints()
			if len(eps) != 1 || len(eps[0].GetLbEndpoints()) != 1 {
				t.Errorf("cluster %s: LOGICAL_DNS needs exactly one endpoint: %v", c.Name, eps)
			}
		default:
			t.Errorf("cluster %s: gRPC rejects cluster type %v", c.Name, c.GetType())
		}
		if len(c.GetTransportSocketMatches()) > 0 {
			t.Errorf("cluster %s: gRPC ignores transport socket matches", c.Name)
		}
		if ts := c.GetTransportSocket(); ts != nil {
			checkGRPCUpstreamTLS(t, c.Name, ts)
		}
	}
	for _, r := range res[resourcev3.EndpointType] {
		checkGRPCAssignment(t, r)
	}
}

// File-based TLS cannot be given to proxyless gRPC (it takes certificates
// from certificate providers): the cluster is left out rather than sent
// without TLS, so requests fail instead of leaking.
func TestFileTLSLeavesGRPCClusterOut(t *testing.T) {
	res, problems := reviewsClusters(t, grpcClient, `
host: reviews
subsets: [{name: v1, labels: {version: v1}, trafficPolicy: {tls: {mode: SIMPLE, caCertificates: /ca.pem}}}]`)
	if got := namesOf(res, resourcev3.ClusterType); !slices.Equal(got, []string{"outbound|9080||" + reviewsHost}) {
		t.Errorf("clusters = %v, want only the one without TLS", got)
	}
	if got := namesOf(res, resourcev3.EndpointType); !slices.Equal(got, []string{"outbound|9080||" + reviewsHost}) {
		t.Errorf("assignments = %v", got)
	}
	if !hasProblem(problems, "DestinationRule", "default/reviews", "spec.subsets[0].trafficPolicy.tls.mode") {
		t.Errorf("problems = %v", problems)
	}
}

func TestInvalidPolicyPartsAreReported(t *testing.T) {
	_, problems := reviewsClusters(t, sidecarProxy, `
host: reviews
trafficPolicy:
  connectionPool: {tcp: {maxConnections: -1, connectTimeout: -1s}}
  outlierDetection: {maxEjectionPercent: 101, interval: 0s}
  loadBalancer: {consistentHash: {maglev: {tableSize: 65536}}}
subsets: [{name: Bad_Name, labels: {version: v1}}]`)
	for _, field := range []string{
		"spec.trafficPolicy.connectionPool.tcp.maxConnections",
		"spec.trafficPolicy.connectionPool.tcp.connectTimeout",
		"spec.trafficPolicy.outlierDetection.maxEjectionPercent",
		"spec.trafficPolicy.outlierDetection.interval",
		"spec.trafficPolicy.loadBalancer.consistentHash.maglev.tableSize",
		"spec.subsets[0].name",
	} {
		if !hasProblem(problems, "DestinationRule", "default/reviews", field) {
			t.Errorf("no problem for %s: %v", field, problems)
		}
	}
}

// gRPC ejects only by success rate or failure percentage: consecutive-error
// thresholds also become failure-percentage ejection for proxyless clients,
// and Envoy gets exactly Istio's consecutive-error settings.
func TestOutlierDetectionForGRPCUsesFailurePercentage(t *testing.T) {
	for _, tc := range []struct {
		dr     string
		volume uint32 // 0: no failure-percentage ejection
	}{
		{`{consecutive5xxErrors: 3}`, 3},
		{`{consecutiveGatewayErrors: 2, consecutive5xxErrors: 4}`, 2},
		{`{interval: 1s}`, envoyDefaultConsecutive5xx}, // Envoy's default of 5 applies
		{`{consecutive5xxErrors: 0}`, 0},
		{`{consecutive5xxErrors: 0, consecutiveGatewayErrors: 7}`, 7},
	} {
		for _, proxy := range []model.Proxy{grpcClient, sidecarProxy} {
			res, problems := reviewsClusters(t, proxy, `{host: reviews, trafficPolicy: {outlierDetection: `+tc.dr+`}}`)
			if len(problems) > 0 {
				t.Fatalf("%s: %v", tc.dr, problems)
			}
			od := res[resourcev3.ClusterType][0].(*clusterv3.Cluster).GetOutlierDetection()
			want := tc.volume
			if proxy.Kind != model.KindGRPC {
				want = 0
			}
			if got := od.GetFailurePercentageRequestVolume().GetValue(); got != want {
				t.Errorf("%s %s: failure-percentage request volume %d, want %d", proxy.Kind, tc.dr, got, want)
			}
			enforced := od.GetEnforcingFailurePercentage().GetValue() == 100 && od.GetFailurePercentageThreshold().GetValue() < 100 &&
				od.GetFailurePercentageMinimumHosts().GetValue() == 1
			if enforced != (want > 0) {
				t.Errorf("%s %s: failure-percentage ejection enforced = %v: %v", proxy.Kind, tc.dr, enforced, od)
			}
			if od.GetEnforcingSuccessRate().GetValue() != 0 {
				t.Errorf("%s %s: success-rate ejection must stay off", proxy.Kind, tc.dr)
			}
		}
	}
}
