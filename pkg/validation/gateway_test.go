package validation

import "testing"

func TestGateway(t *testing.T) {
	runCases(t, "networking.istio.io", "Gateway", []testCase{
		{name: "istio docs: my-gateway", spec: `
selector: {app: my-gateway-controller}
servers:
- port: {number: 80, name: http, protocol: HTTP}
  hosts: [uk.bookinfo.com, eu.bookinfo.com]
  tls: {httpsRedirect: true}
- port: {number: 443, name: https-443, protocol: HTTPS}
  hosts: [uk.bookinfo.com, eu.bookinfo.com]
  tls: {mode: SIMPLE, credentialName: bookinfo-secret}
- port: {number: 9443, name: https-9443, protocol: HTTPS}
  hosts: ["bookinfo-namespace/*.bookinfo.com"]
  tls: {mode: SIMPLE, credentialName: bookinfo-secret}
- port: {number: 9080, name: http-wildcard, protocol: HTTP}
  hosts: ["*"]
- port: {number: 2379, name: mongo, protocol: MONGO}
  hosts: ["*"]`},
		{name: "istio docs: passthrough", spec: `
selector: {istio: ingressgateway}
servers:
- port: {number: 443, name: tls, protocol: TLS}
  hosts: [nginx.example.com]
  tls: {mode: PASSTHROUGH}`},

		{name: "HTTPS without tls", want: "spec.servers[0].tls", spec: `
servers:
- port: {number: 443, name: https, protocol: HTTPS}
  hosts: [a.example.com]`},
		{name: "TLS on a TCP port", want: "spec.servers[0].tls", spec: `
servers:
- port: {number: 31400, name: tcp, protocol: TCP}
  hosts: [a.example.com]
  tls: {mode: SIMPLE, credentialName: c}`},
		{name: "duplicate port names", want: "spec.servers[1].port.name", spec: `
servers:
- port: {number: 80, name: http, protocol: HTTP}
  hosts: [a.example.com]
- port: {number: 8080, name: http, protocol: HTTP}
  hosts: [b.example.com]`},
		{name: "unknown protocol", want: "spec.servers[0].port.protocol", spec: `
servers:
- port: {number: 80, name: http, protocol: QUIC}
  hosts: [a.example.com]`},
		{name: "short host name", want: "spec.servers[0].hosts[0]", spec: `
servers:
- port: {number: 80, name: http, protocol: HTTP}
  hosts: [reviews]`},
		{name: "partial wildcard host", want: "spec.servers[0].hosts[0]", spec: `
servers:
- port: {number: 80, name: http, protocol: HTTP}
  hosts: ["ns/foo*.example.com"]`},
		{name: "mutual without CA", want: "spec.servers[0].tls.caCertificates", spec: `
servers:
- port: {number: 443, name: https, protocol: HTTPS}
  hosts: [a.example.com]
  tls: {mode: MUTUAL, serverCertificate: /c.pem, privateKey: /k.pem}`},
		{name: "ISTIO_MUTUAL with a certificate", want: "spec.servers[0].tls", spec: `
servers:
- port: {number: 443, name: tls, protocol: TLS}
  hosts: [a.example.com]
  tls: {mode: ISTIO_MUTUAL, credentialName: c}`},
		{name: "unknown cipher suite warns", warn: "spec.servers[0].tls.cipherSuites[1]", spec: `
servers:
- port: {number: 443, name: https, protocol: HTTPS}
  hosts: [a.example.com]
  tls: {mode: SIMPLE, credentialName: c, cipherSuites: [AES128-SHA, RC4-MD5]}`},
		{name: "no servers", want: "spec.servers", spec: `selector: {app: gw}`},
		{name: "httpsRedirect on TCP warns", warn: "spec.servers[0].tls.httpsRedirect", want: "spec.servers[0].tls", spec: `
servers:
- port: {number: 9000, name: tcp, protocol: TCP}
  hosts: [a.example.com]
  tls: {httpsRedirect: true}`},
	})
}

func TestGatewayName(t *testing.T) {
	r := Gateway("my.gateway", nil)
	if !hasField(r.Errors, "metadata.name") {
		t.Errorf("a gateway name with dots must be refused: %v", r.Errors)
	}
}
