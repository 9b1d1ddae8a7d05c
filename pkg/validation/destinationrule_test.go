package validation

import "testing"

func TestDestinationRule(t *testing.T) {
	runCases(t, "networking.istio.io", "DestinationRule", []testCase{
		{name: "istio docs: bookinfo ratings", spec: `
host: ratings.prod.svc.cluster.local
trafficPolicy:
  loadBalancer: {simple: LEAST_REQUEST}
subsets:
- name: testversion
  labels: {version: v3}
  trafficPolicy:
    loadBalancer: {simple: ROUND_ROBIN}`},
		{name: "istio docs: connection pool and outlier detection", spec: `
host: reviews.prod.svc.cluster.local
trafficPolicy:
  connectionPool:
    tcp: {maxConnections: 100, connectTimeout: 30ms, tcpKeepalive: {time: 7200s, interval: 75s}}
    http: {http2MaxRequests: 1000, maxRequestsPerConnection: 10}
  outlierDetection: {consecutive5xxErrors: 7, interval: 5m, baseEjectionTime: 15m}`},
		{name: "istio docs: consistent hash on cookie", spec: `
host: bookinfo-ratings.prod.svc.cluster.local
trafficPolicy:
  loadBalancer:
    consistentHash:
      httpCookie: {name: user, ttl: 0s}`},
		{name: "istio docs: mutual TLS origination", spec: `
host: "*.foo.com"
trafficPolicy:
  tls: {mode: MUTUAL, clientCertificate: /etc/certs/myclientcert.pem, privateKey: /etc/certs/client_private_key.pem, caCertificates: /etc/certs/rootcacerts.pem}`},

		{name: "duplicate subset names", want: "spec.subsets[1].name", spec: `
host: reviews
subsets: [{name: v1, labels: {version: v1}}, {name: v1, labels: {version: v2}}]`},
		{name: "bad subset name", want: "spec.subsets[0].name", spec: `
host: reviews
subsets: [{name: "v1.0"}]`},
		{name: "empty traffic policy", want: "spec.trafficPolicy", spec: `
host: reviews
trafficPolicy: {}`},
		{name: "bad hash header", want: "spec.trafficPolicy.loadBalancer.consistentHash.httpHeaderName", spec: `
host: reviews
trafficPolicy: {loadBalancer: {consistentHash: {httpHeaderName: "x user"}}}`},
		{name: "maglev table not prime", want: "spec.trafficPolicy.loadBalancer.consistentHash.maglev.tableSize", spec: `
host: reviews
trafficPolicy: {loadBalancer: {consistentHash: {httpHeaderName: x-user, maglev: {tableSize: 1000}}}}`},
		{name: "mutual TLS without certificates", want: "spec.trafficPolicy.tls.clientCertificate", spec: `
host: reviews
trafficPolicy: {tls: {mode: MUTUAL}}`},
		{name: "negative max ejection", want: "spec.trafficPolicy.outlierDetection.maxEjectionPercent", spec: `
host: reviews
trafficPolicy: {outlierDetection: {maxEjectionPercent: -1}}`},
		{name: "locality distribution not 100", want: "spec.trafficPolicy.loadBalancer.localityLbSetting.distribute[0].to", spec: `
host: reviews
trafficPolicy: {loadBalancer: {localityLbSetting: {distribute: [{from: us-west/zone1/*, to: {"us-west/zone1/*": 80, "us-west/zone2/*": 10}}]}}}`},
		{name: "keepalive below a second warns", warn: "spec.trafficPolicy.connectionPool.tcp.tcpKeepalive.time", spec: `
host: reviews
trafficPolicy: {connectionPool: {tcp: {tcpKeepalive: {time: 0.5s}}}}`},
		{name: "unknown enum value named", want: "spec.trafficPolicy.loadBalancer.simple", spec: `
host: reviews
trafficPolicy: {loadBalancer: {simple: FASTEST}}`},
		{name: "bad host", want: "spec.host", spec: `host: "reviews..svc"`},
		{name: "exportTo * with others", want: "spec.exportTo", spec: `
host: reviews
exportTo: ["*", "."]`},
		{name: "selector exported beyond namespace", want: "spec.exportTo", spec: `
host: reviews
workloadSelector: {matchLabels: {app: a}}
exportTo: [other]`},
	})
}
