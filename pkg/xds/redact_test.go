package xds

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	tlsv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/transport_sockets/tls/v3"
	resourcev3 "github.com/envoyproxy/go-control-plane/pkg/resource/v3"
)

// TestConfigDumpHidesPrivateKeys: /debug/config_dump shows a Secret's certificate but never
// its private key, which a proxy received over its stream.
func TestConfigDumpHidesPrivateKeys(t *testing.T) {
	e := startEnv(t, true)
	inline := func(s string) *corev3.DataSource {
		return &corev3.DataSource{Specifier: &corev3.DataSource_InlineBytes{InlineBytes: []byte(s)}}
	}
	e.gen.set("default", resourcev3.SecretType, &tlsv3.Secret{Name: "kubernetes://gw-cert", Type: &tlsv3.Secret_TlsCertificate{TlsCertificate: &tlsv3.TlsCertificate{
		CertificateChain: inline("CERTIFICATE-BYTES"), PrivateKey: inline("PRIVATE-KEY-BYTES"),
	}}})
	c := e.sotw("gw-dbg", "")
	c.request(resourcev3.SecretType, "kubernetes://gw-cert")
	resp := c.recv()
	c.ack(resp, "kubernetes://gw-cert")
	if !strings.Contains(string(resp.GetResources()[0].GetValue()), "PRIVATE-KEY-BYTES") {
		t.Fatal("the proxy itself was not sent the key: the test proves nothing")
	}
	waitFor(t, "the ACK", func() bool {
		for _, p := range e.srv.Proxies() {
			if p.Node == "gw-dbg" && p.Types[resourcev3.SecretType].AckedNonce != "" {
				return true
			}
		}
		return false
	})
	rec := httptest.NewRecorder()
	e.srv.DebugHandler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/debug/config_dump?proxy=gw-dbg", nil))
	body := rec.Body.String()
	if rec.Code != http.StatusOK || !strings.Contains(body, "Q0VSVElGSUNBVEUtQllURVM=") {
		t.Fatalf("config_dump does not show the Secret's certificate:\n%s", body)
	}
	if strings.Contains(body, "UFJJVkFURS1LRVktQllURVM") || !strings.Contains(body, redacted) {
		t.Fatalf("config_dump shows the private key:\n%s", body)
	}
}
