package validation

import "testing"

func TestServiceEntry(t *testing.T) {
	runCases(t, "networking.istio.io", "ServiceEntry", []testCase{
		{name: "istio docs: external https", spec: `
hosts: [api.dropboxapi.com, www.googleapis.com]
location: MESH_EXTERNAL
ports: [{number: 443, name: https, protocol: TLS}]
resolution: DNS`},
		{name: "istio docs: static endpoints", spec: `
hosts: [mymongodb.somedomain]
addresses: [192.192.192.192/24]
ports: [{number: 27018, name: mongodb, protocol: MONGO}]
location: MESH_INTERNAL
resolution: STATIC
endpoints:
- address: 2.2.2.2
- address: 3.3.3.3`},
		{name: "istio docs: DNS with endpoints", spec: `
hosts: [foo.bar.com]
location: MESH_EXTERNAL
ports: [{number: 80, name: http, protocol: HTTP}]
resolution: DNS
endpoints:
- address: us.foo.bar.com
  ports: {http: 8080}`},
		{name: "istio docs: wildcard NONE", spec: `
hosts: ["*.bar.com"]
location: MESH_EXTERNAL
ports: [{number: 80, name: http, protocol: HTTP}]
resolution: NONE`},

		{name: "duplicate port number", want: "spec.ports[1].number", spec: `
hosts: [a.example.com]
ports: [{number: 80, name: http, protocol: HTTP}, {number: 80, name: http2, protocol: HTTP}]
resolution: DNS`},
		{name: "duplicate port name", want: "spec.ports[1].name", spec: `
hosts: [a.example.com]
ports: [{number: 80, name: http, protocol: HTTP}, {number: 81, name: http, protocol: HTTP}]
resolution: DNS`},
		{name: "endpoints with NONE", want: "spec.endpoints", spec: `
hosts: [a.example.com]
ports: [{number: 80, name: http, protocol: HTTP}]
resolution: NONE
endpoints: [{address: 1.1.1.1}]`},
		{name: "STATIC endpoint that is a name", want: "spec.endpoints[0].address", spec: `
hosts: [a.example.com]
ports: [{number: 80, name: http, protocol: HTTP}]
resolution: STATIC
endpoints: [{address: a.example.com}]`},
		{name: "endpoint port not defined", want: "spec.endpoints[0].ports[grpc]", spec: `
hosts: [a.example.com]
ports: [{number: 80, name: http, protocol: HTTP}]
resolution: DNS
endpoints: [{address: b.example.com, ports: {grpc: 9000}}]`},
		{name: "CIDR with DNS", want: "spec.addresses", spec: `
hosts: [a.example.com]
addresses: [10.0.0.0/8]
ports: [{number: 80, name: http, protocol: HTTP}]
resolution: DNS`},
		{name: "wildcard host with DNS and no endpoints", want: "spec.hosts[0]", spec: `
hosts: ["*.example.com"]
ports: [{number: 80, name: http, protocol: HTTP}]
resolution: DNS`},
		{name: "DNS_ROUND_ROBIN with two endpoints", want: "spec.endpoints", spec: `
hosts: [a.example.com]
ports: [{number: 80, name: http, protocol: HTTP}]
resolution: DNS_ROUND_ROBIN
endpoints: [{address: b.example.com}, {address: c.example.com}]`},
		{name: "several hosts on a TCP port", want: "spec.ports[0].protocol", spec: `
hosts: [a.example.com, b.example.com]
ports: [{number: 5432, name: tcp, protocol: TCP}]
resolution: DNS`},
		{name: "full wildcard host", want: "spec.hosts[0]", spec: `
hosts: ["*"]
ports: [{number: 80, name: http, protocol: HTTP}]
resolution: NONE`},
		{name: "selector and endpoints", want: "spec.endpoints", spec: `
hosts: [a.example.com]
ports: [{number: 80, name: http, protocol: HTTP}]
resolution: STATIC
workloadSelector: {labels: {app: a}}
endpoints: [{address: 1.1.1.1}]`},
		{name: "partial wildcard warns", warn: "spec.hosts[0]", spec: `
hosts: ["*foo.example.com"]
ports: [{number: 80, name: http, protocol: HTTP}]
resolution: NONE`},
	})
}

func TestWorkloadEntry(t *testing.T) {
	runCases(t, "networking.istio.io", "WorkloadEntry", []testCase{
		{name: "istio docs: details VM", spec: `
serviceAccount: details-legacy
address: 2.2.2.2
labels: {app: details-legacy, instance-id: vm1}`},
		{name: "istio docs: DNS address", spec: `
address: vm1.vpc01.corp.net
ports: {http: 8080}`},
		{name: "no address", want: "spec.address", spec: `labels: {app: a}`},
		{name: "address on a network only warns", warn: "spec.address", spec: `network: vpc1`},
		{name: "bad port", want: "spec.ports[http]", spec: `
address: 1.1.1.1
ports: {http: 70000}`},
		{name: "unix socket with ports", want: "spec.ports", spec: `
address: unix:///var/run/a.sock
ports: {http: 80}`},
		{name: "bad label value", want: "spec.labels[app]", spec: `
address: 1.1.1.1
labels: {app: "not a label"}`},
	})
}

func TestSidecar(t *testing.T) {
	runCases(t, "networking.istio.io", "Sidecar", []testCase{
		{name: "istio docs: default namespace egress", spec: `
egress:
- hosts: ["./*", "istio-system/*"]`},
		{name: "istio docs: ingress and egress", spec: `
workloadSelector: {labels: {app: ratings}}
ingress:
- port: {number: 9080, protocol: HTTP, name: somename}
  defaultEndpoint: unix:///var/run/someuds.sock
egress:
- port: {number: 9080, protocol: HTTP, name: egresshttp}
  hosts: ["prod-us1/*"]
- hosts: ["istio-system/*"]`},
		{name: "istio docs: outbound policy", spec: `
outboundTrafficPolicy: {mode: REGISTRY_ONLY}
egress:
- hosts: ["./*"]`},

		{name: "empty", want: "spec", spec: `{}`},
		{name: "catch-all egress not last", want: "spec.egress[0].port", spec: `
egress:
- hosts: ["./*"]
- port: {number: 80, protocol: HTTP, name: http}
  hosts: ["./*"]`},
		{name: "duplicate ingress port", want: "spec.ingress[1].port.number", spec: `
ingress:
- port: {number: 9080, protocol: HTTP, name: a}
  defaultEndpoint: 127.0.0.1:8080
- port: {number: 9080, protocol: HTTP, name: b}
  defaultEndpoint: 127.0.0.1:8081`},
		{name: "egress host without namespace", want: "spec.egress[0].hosts[0]", spec: `
egress:
- hosts: [foo.example.com]`},
		{name: "bad default endpoint", want: "spec.ingress[0].defaultEndpoint", spec: `
ingress:
- port: {number: 9080, protocol: HTTP, name: a}
  defaultEndpoint: 10.0.0.1:8080`},
		{name: "egress proxy without ALLOW_ANY", want: "spec.outboundTrafficPolicy.egressProxy", spec: `
outboundTrafficPolicy: {mode: REGISTRY_ONLY, egressProxy: {host: proxy.example.com, port: {number: 3128}}}`},
		{name: "duplicate egress host warns", warn: "spec.egress[0].hosts[1]", spec: `
egress:
- hosts: ["./a.example.com", "./a.example.com"]`},
		{name: "selector without labels warns", warn: "spec.workloadSelector.labels", spec: `
workloadSelector: {}
egress:
- hosts: ["./*"]`},
	})
}
