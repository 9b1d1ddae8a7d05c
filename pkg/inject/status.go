package inject

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// readiness is the istio-proxy readiness probe's timing
// (readiness.status.sidecar.istio.io/*; Istio's defaults otherwise).
type readiness struct {
	initialDelaySeconds, periodSeconds, failureThreshold int32
}

// envoyPorts are the ports Envoy itself listens on in the sidecar: a status
// port on one of them could never be bound by the agent.
var envoyPorts = map[int32]string{
	envoyAdminPort: "Envoy's admin port",
	outboundPort:   "Envoy's outbound capture port",
	inboundPort:    "Envoy's inbound capture port",
	readinessPort:  "Envoy's readiness port",
	prometheusPort: "Envoy's Prometheus port",
}

// parseStatusPort returns the agent's status port. As in Istio, the
// annotation status.sidecar.istio.io/port wins over proxy.istio.io/config's
// statusPort (fromProxyConfig, 0 when unset), which wins over 15020; 0
// turns the status port off: no readiness probe on istio-proxy.
func parseStatusPort(annotations map[string]string, fromProxyConfig int32) (int32, error) {
	port := int32(defaultStatusPort)
	if fromProxyConfig != 0 {
		port = fromProxyConfig
	}
	v, ok := annotations[annotationStatusPort]
	if !ok {
		return port, nil
	}
	// Istio's validateStatusPort: a 16-bit unsigned number, spaces trimmed.
	p, err := strconv.ParseUint(strings.TrimSpace(v), 10, 16)
	if err != nil {
		return 0, annotationError(annotationStatusPort, v, fmt.Errorf("not a port (0-65535; 0 turns the readiness probe off)"))
	}
	port = int32(p)
	if what, clash := envoyPorts[port]; clash {
		return 0, annotationError(annotationStatusPort, v, fmt.Errorf("%d is %s", port, what))
	}
	return port, nil
}

// parseReadiness reads readiness.status.sidecar.istio.io/initialDelaySeconds,
// periodSeconds and failureThreshold: Istio's unsigned 32-bit numbers, up to
// what a Kubernetes probe holds. 0 leaves the field to Kubernetes' default.
func parseReadiness(annotations map[string]string) (readiness, error) {
	r := readiness{periodSeconds: defaultReadyPeriodSeconds, failureThreshold: defaultReadyFailureThreshold}
	for _, f := range []struct {
		annotation string
		field      *int32
	}{
		{annotationReadyDelay, &r.initialDelaySeconds},
		{annotationReadyPeriod, &r.periodSeconds},
		{annotationReadyFailures, &r.failureThreshold},
	} {
		v, ok := annotations[f.annotation]
		if !ok {
			continue
		}
		n, err := strconv.ParseUint(v, 10, 32)
		if err != nil || n > math.MaxInt32 {
			return r, annotationError(f.annotation, v, fmt.Errorf("want a whole number from 0 to %d", math.MaxInt32))
		}
		*f.field = int32(n)
	}
	return r, nil
}

// excludeStatusPort adds the status port to the inbound ports capture skips,
// as Istio's template does (its excludeInboundPort): kubelet's probes reach
// the agent directly. `loom iptables` always skips 15020.
func excludeStatusPort(flags []string, port int32) []string {
	if port == 0 || port == defaultStatusPort {
		return flags
	}
	const flag = flagExcludeInboundPorts + "="
	p := strconv.Itoa(int(port))
	for i, f := range flags {
		list, ok := strings.CutPrefix(f, flag)
		if !ok {
			continue
		}
		if list == "" {
			flags[i] = flag + p
		} else if !containsItem(list, p) {
			flags[i] = f + "," + p
		}
		return flags
	}
	return append(flags, flag+p)
}

func containsItem(commaList, item string) bool {
	for _, x := range strings.Split(commaList, ",") {
		if x == item {
			return true
		}
	}
	return false
}
