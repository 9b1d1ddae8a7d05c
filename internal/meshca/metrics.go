package meshca

import (
	"github.com/prometheus/client_golang/prometheus"

	"loom.dev/loom/pkg/ca"
)

// Results of a certificate request, the label of loom_ca_certificate_requests_total.
const (
	resultIssued           = "issued"
	resultUnauthenticated  = "unauthenticated"
	resultInvalidCSR       = "invalid_csr"
	resultIdentityMismatch = "identity_mismatch"
	resultError            = "error"
)

type metrics struct {
	requests   *prometheus.CounterVec
	xdsRefused prometheus.Counter
	expiry     *prometheus.GaugeVec
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{requests: prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "loom_ca_certificate_requests_total",
		Help: "Certificate signing requests to the mesh CA, by result (issued, unauthenticated, invalid_csr, identity_mismatch, error).",
	}, []string{"result"}),
		xdsRefused: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "loom_xds_secure_streams_refused_total",
			Help: "xDS streams on the secure port refused because the caller's ServiceAccount token did not authenticate.",
		}),
		expiry: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "loom_ca_certificate_expiry_timestamp_seconds",
			Help: "When each certificate of the mesh CA's loaded material expires (Unix seconds), by role (signing, intermediate, root) and name (subject and serial).",
		}, []string{"role", "name"}),
	}
	for _, r := range []string{resultIssued, resultUnauthenticated, resultInvalidCSR, resultIdentityMismatch, resultError} {
		m.requests.WithLabelValues(r)
	}
	if reg != nil {
		reg.MustRegister(m.requests, m.xdsRefused, m.expiry)
	}
	return m
}

// recordSigner replaces the expiry series with those of the signer the CA now uses, so a
// rotated-out certificate stops being reported.
func (m *metrics) recordSigner(signer *ca.Signer) {
	m.expiry.Reset()
	for _, c := range signer.Expiries() {
		m.expiry.WithLabelValues(c.Role, c.Name).Set(float64(c.NotAfter.Unix()))
	}
}
