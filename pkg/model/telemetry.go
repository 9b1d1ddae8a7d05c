package model

// AccessLogEncoding is how each access log line is written.
type AccessLogEncoding string

const (
	AccessLogText AccessLogEncoding = "TEXT"
	AccessLogJSON AccessLogEncoding = "JSON"
)

// Telemetry is the mesh config's access logging and tracing for Envoy
// proxies; a nil field is off.
type Telemetry struct {
	AccessLog *AccessLog
	Tracing   *Tracing
	// DefaultProviders are the mesh config's defaultProviders: the access
	// log and tracing providers used where no Telemetry object names any.
	DefaultProviders DefaultProviders
}

// DefaultProviders name providers, built-in ("envoy", "zipkin") or
// extensionProviders; empty lists keep the built-in defaults.
type DefaultProviders struct {
	AccessLogging []string
	Tracing       []string
}

// AccessLog asks every connection manager and TCP proxy for a file access log.
type AccessLog struct {
	Path     string
	Encoding AccessLogEncoding
}

// Tracing asks HTTP connection managers to send Zipkin spans to a collector.
type Tracing struct {
	// SamplingPercentage is the share of requests traced, 0 to 100.
	SamplingPercentage float64
	// CollectorHost is empty when the mesh config names no collector:
	// nothing is traced then.
	CollectorHost string
	CollectorPort uint32
}

// Traces reports whether proxies are asked to send spans.
func (t Telemetry) Traces() bool { return t.Tracing != nil && t.Tracing.CollectorHost != "" }

// Telemetry returns the mesh-wide access logging and tracing settings.
func (s *Snapshot) Telemetry() Telemetry { return s.telemetry }

// MeshConfigKind is the kind problems with the mesh config are reported under.
const MeshConfigKind = "MeshConfig"

// checkTelemetry says, once per snapshot, what proxyless gRPC does not get:
// gRPC-Go's xDS client implements neither access logs nor tracing.
func (s *Snapshot) checkTelemetry() {
	mesh := Meta{Name: "mesh"}
	if s.telemetry.AccessLog != nil {
		s.report(MeshConfigKind, mesh, "spec.meshConfig.accessLogging",
			"proxyless gRPC clients and servers write no access log: gRPC-Go's xDS client implements none (Envoy sidecars and gateways do)")
	}
	if tr := s.telemetry.Tracing; tr != nil && tr.CollectorHost == "" {
		s.report(MeshConfigKind, mesh, "spec.meshConfig.tracing.collectorAddress",
			"tracing is enabled but no collector is named (set collectorAddress or enable the Jaeger add-on): the built-in provider %q traces nothing (tracing extension providers named by Telemetry objects or defaultProviders still trace)", ZipkinTraceProvider)
	}
	if s.telemetry.Traces() {
		s.report(MeshConfigKind, mesh, "spec.meshConfig.tracing",
			"proxyless gRPC clients and servers send no traces: gRPC-Go's xDS client implements no tracing (Envoy sidecars and gateways do)")
	}
}
