package meshca

import "github.com/prometheus/client_golang/prometheus"

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
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{requests: prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "loom_ca_certificate_requests_total",
		Help: "Certificate signing requests to the mesh CA, by result (issued, unauthenticated, invalid_csr, identity_mismatch, error).",
	}, []string{"result"}),
		xdsRefused: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "loom_xds_secure_streams_refused_total",
			Help: "xDS streams on the secure port refused because the caller's ServiceAccount token did not authenticate.",
		})}
	for _, r := range []string{resultIssued, resultUnauthenticated, resultInvalidCSR, resultIdentityMismatch, resultError} {
		m.requests.WithLabelValues(r)
	}
	if reg != nil {
		reg.MustRegister(m.requests, m.xdsRefused)
	}
	return m
}
