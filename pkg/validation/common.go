package validation

import (
	"maps"
	"slices"
	"strings"
	"time"

	"google.golang.org/protobuf/types/known/durationpb"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// protocol is Istio's port protocol, parsed as Istio does (case-insensitive); "" if unknown.
func protocol(name string) string {
	switch p := strings.ToUpper(name); p {
	case "TCP", "UDP", "GRPC", "GRPC-WEB", "HTTP", "HTTP_PROXY", "HTTP2", "HTTPS", "TLS", "MONGO", "REDIS", "MYSQL":
		return p
	}
	return ""
}

func isHTTPProtocol(p string) bool {
	return p == "HTTP" || p == "HTTP2" || p == "HTTP_PROXY" || p == "GRPC" || p == "GRPC-WEB"
}

func isTLSProtocol(p string) bool { return p == "HTTPS" || p == "TLS" }

func checkProtocol(r *Result, at *field.Path, name string) {
	if name != "" && protocol(name) == "" {
		r.errorf(at, "unsupported protocol %q (HTTP, HTTPS, HTTP2, GRPC, GRPC-WEB, HTTP_PROXY, TCP, TLS, UDP, MONGO, REDIS, MYSQL)", name)
	}
}

// istioDuration is Istio's rule for the Durations it validates: at least 1ms, whole
// milliseconds. Negative and out-of-range values fail the shared Duration check first.
func istioDuration(r *Result, at *field.Path, d *durationpb.Duration) {
	if d == nil {
		return
	}
	if err := Duration(d); err != nil {
		r.errorf(at, "%v", err)
		return
	}
	switch v := d.AsDuration(); {
	case v < time.Millisecond:
		r.errorf(at, "duration %v must be at least 1ms", v)
	case v%time.Millisecond != 0:
		r.errorf(at, "duration %v: only whole milliseconds are supported", v)
	}
}

// positiveDuration is the shared PositiveDuration check, then Istio's.
func positiveDuration(r *Result, at *field.Path, d *durationpb.Duration) {
	if err := PositiveDuration(d); err != nil {
		r.errorf(at, "%v", err)
		return
	}
	istioDuration(r, at, d)
}

// checkLabels checks Kubernetes label keys and values (selectors, source labels).
func checkLabels(r *Result, at *field.Path, labels map[string]string) {
	for _, k := range slices.Sorted(maps.Keys(labels)) {
		for _, msg := range validation.IsQualifiedName(k) {
			r.errorf(at.Key(k), "invalid label key: %s", msg)
		}
		for _, msg := range validation.IsValidLabelValue(labels[k]) {
			r.errorf(at.Key(k), "invalid label value %q: %s", labels[k], msg)
		}
	}
}

// checkSelectorLabels is Istio's workload selector rule: no empty key, no wildcard; no
// labels at all selects every workload of the namespace, which Istio only warns about.
func checkSelectorLabels(r *Result, at *field.Path, labels map[string]string) {
	if len(labels) == 0 {
		r.warnf(at, "workload selector without labels selects every workload in the namespace")
	}
	for _, k := range slices.Sorted(maps.Keys(labels)) {
		switch {
		case k == "":
			r.errorf(at.Key(k), "empty label key is not supported in a selector")
		case strings.Contains(k, "*") || strings.Contains(labels[k], "*"):
			r.errorf(at.Key(k), "wildcard is not supported in a selector: %s=%s", k, labels[k])
		}
	}
}

// checkExportTo applies Istio's exportTo rules: ".", "*" or namespace names, no repeats,
// "*" alone; "~" (no one) only for ServiceEntries, and alone.
func checkExportTo(r *Result, at *field.Path, namespace string, exportTo []string, serviceEntry bool) {
	seen := map[string]bool{}
	for i, e := range exportTo {
		key := e
		if e == "." {
			key = namespace
		}
		switch {
		case seen[key]:
			r.errorf(at.Index(i), "duplicate exportTo entry %q", e)
		case e == "~" && !serviceEntry:
			r.errorf(at.Index(i), "exportTo ~ (no one) is only allowed for ServiceEntries")
		case e != "." && e != "*" && e != "~" && !isIstioDNSLabel(e):
			r.errorf(at.Index(i), "exportTo entry %q must be ., * or a namespace name", e)
		}
		seen[key] = true
	}
	if len(exportTo) > 1 && seen["*"] {
		r.errorf(at, "* (everyone) cannot be combined with other exportTo entries")
	}
	if len(exportTo) > 1 && seen["~"] {
		r.errorf(at, "~ (no one) cannot be combined with other exportTo entries")
	}
}

// gatewayNames checks references to Gateways: "namespace/name", or Istio's legacy forms.
func gatewayNames(r *Result, at *field.Path, names []string) {
	for i, name := range names {
		ns, gw, ok := strings.Cut(name, "/")
		if !ok {
			if name == "mesh" {
				continue
			}
			if strings.Contains(name, ".") {
				parts := strings.Split(name, ".")
				r.warnf(at.Index(i), "legacy gateway name %q; prefer namespace/name: %q", name, parts[1]+"/"+parts[0])
			}
			r.check(at.Index(i), fqdn(name))
			continue
		}
		if !isIstioDNSLabel(ns) {
			r.errorf(at.Index(i), "gateway %q: invalid namespace %q", name, ns)
		}
		if !isIstioDNSLabel(gw) {
			r.errorf(at.Index(i), "gateway %q: invalid name %q", name, gw)
		}
	}
}
