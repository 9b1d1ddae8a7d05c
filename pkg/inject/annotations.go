package inject

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
)

// options is what the pod's annotations ask of the injector, validated.
type options struct {
	template      string
	resources     corev1.ResourceRequirements
	redirectFlags []string // `loom iptables` flags from traffic.sidecar.istio.io/*
	hold          bool
	drainDuration time.Duration // 0: the agent's default
	rewriteProbes bool
	statusPort    int32 // the agent's; 0: no readiness probe on istio-proxy, no probe rewrite
	readiness     readiness
	envoyLog      envoyLogging
	envoyDrain    time.Duration // Envoy's --drain-time-s; 0: the agent's default
	concurrency   int32         // Envoy's worker threads; 0: Envoy's default (one per core)
	metadata      []corev1.EnvVar
	agentLogLevel string // `loom agent --zap-log-level`; "": its default
}

// annotationError names the annotation and the value it refuses.
func annotationError(name, value string, err error) error {
	return fmt.Errorf("annotation %s: invalid value %q: %w", name, value, err)
}

func parseOptions(annotations map[string]string, s Settings) (options, error) {
	o := options{hold: s.HoldApplicationUntilProxyStarts, rewriteProbes: true}
	var err error
	if o.template, err = parseTemplate(annotations); err != nil {
		return o, err
	}
	if o.resources, err = parseResources(annotations, s.ProxyResources); err != nil {
		return o, err
	}
	if o.redirectFlags, err = parseRedirectFlags(annotations); err != nil {
		return o, err
	}
	if v, ok := annotations[annotationInterception]; ok && v != "REDIRECT" {
		return o, annotationError(annotationInterception, v, fmt.Errorf("only REDIRECT is supported"))
	}
	var pc proxyConfig
	if v, ok := annotations[annotationProxyConfig]; ok {
		if pc, err = parseProxyConfig(v); err != nil {
			return o, annotationError(annotationProxyConfig, v, err)
		}
		if pc.hold != nil {
			o.hold = *pc.hold
		}
		o.drainDuration, o.envoyDrain, o.concurrency, o.metadata = pc.drainDuration, pc.envoyDrain, pc.concurrency, pc.metadata
	}
	if v, ok := annotations[annotationRewriteProbes]; ok {
		if o.rewriteProbes, err = strconv.ParseBool(v); err != nil {
			return o, annotationError(annotationRewriteProbes, v, fmt.Errorf("want true or false"))
		}
	}
	if o.statusPort, err = parseStatusPort(annotations, pc.statusPort); err != nil {
		return o, err
	}
	o.redirectFlags = excludeStatusPort(o.redirectFlags, o.statusPort)
	if o.readiness, err = parseReadiness(annotations); err != nil {
		return o, err
	}
	if o.envoyLog, err = parseEnvoyLogging(annotations); err != nil {
		return o, err
	}
	if o.agentLogLevel, err = agentLogLevel(annotations); err != nil {
		return o, err
	}
	return o, nil
}

// parseTemplate reads inject.istio.io/templates. Istio takes a comma list
// of templates merged in order; Loom's two templates do not combine, so the
// list must name exactly one.
func parseTemplate(annotations map[string]string) (string, error) {
	v, ok := annotations[annotationTemplates]
	if !ok {
		return TemplateSidecar, nil
	}
	var name string
	for _, part := range strings.Split(v, ",") {
		part = strings.TrimSpace(part)
		switch {
		case part != TemplateSidecar && part != TemplateGRPCAgent:
			return "", annotationError(annotationTemplates, v,
				fmt.Errorf("unknown template %q (known: %s, %s)", part, TemplateSidecar, TemplateGRPCAgent))
		case name != "" && part != name:
			return "", annotationError(annotationTemplates, v, fmt.Errorf("templates %s and %s cannot be combined", name, part))
		}
		name = part
	}
	return name, nil
}

// parseResources returns the injected containers' resources. As in Istio,
// any of the four annotations replaces the defaults entirely.
func parseResources(annotations map[string]string, defaults corev1.ResourceRequirements) (corev1.ResourceRequirements, error) {
	fields := []struct {
		annotation string
		limit      bool
		name       corev1.ResourceName
	}{
		{annotationProxyCPU, false, corev1.ResourceCPU},
		{annotationProxyMemory, false, corev1.ResourceMemory},
		{annotationProxyCPULimit, true, corev1.ResourceCPU},
		{annotationProxyMemLimit, true, corev1.ResourceMemory},
	}
	var out corev1.ResourceRequirements
	set := false
	for _, f := range fields {
		v, ok := annotations[f.annotation]
		if !ok {
			continue
		}
		set = true
		q, err := resource.ParseQuantity(v)
		if err != nil {
			return out, annotationError(f.annotation, v, err)
		}
		if q.Sign() < 0 {
			return out, annotationError(f.annotation, v, fmt.Errorf("must not be negative"))
		}
		list := &out.Requests
		if f.limit {
			list = &out.Limits
		}
		if *list == nil {
			*list = corev1.ResourceList{}
		}
		(*list)[f.name] = q
	}
	if !set {
		return *defaults.DeepCopy(), nil
	}
	for _, pair := range [][2]string{{annotationProxyCPU, annotationProxyCPULimit}, {annotationProxyMemory, annotationProxyMemLimit}} {
		name := corev1.ResourceCPU
		if pair[0] == annotationProxyMemory {
			name = corev1.ResourceMemory
		}
		req, hasReq := out.Requests[name]
		limit, hasLimit := out.Limits[name]
		if hasReq && hasLimit && req.Cmp(limit) > 0 {
			return out, fmt.Errorf("annotation %s=%q is above annotation %s=%q: a request cannot exceed its limit",
				pair[0], annotations[pair[0]], pair[1], annotations[pair[1]])
		}
	}
	return out, nil
}

// flagExcludeInboundPorts is the `loom iptables` flag of the inbound ports
// capture skips.
const flagExcludeInboundPorts = "--istio-local-exclude-ports"

// redirectAnnotations map traffic.sidecar.istio.io/* to `loom iptables`
// flags (Istio's istio-iptables long names).
var redirectAnnotations = []struct {
	annotation, flag string
	cidrs            bool // a CIDR list, else a port list
	star             bool // "*" (everything) allowed
}{
	{annotationIncludeOutCIDR, "--istio-service-cidr", true, true},
	{annotationExcludeOutCIDR, "--istio-service-exclude-cidr", true, false},
	{annotationIncludeInPorts, "--istio-inbound-ports", false, true},
	{annotationExcludeInPorts, flagExcludeInboundPorts, false, false},
	{annotationExcludeOutPort, "--istio-local-outbound-ports-exclude", false, false},
	{annotationIncludeOutPort, "--istio-outbound-ports", false, false},
}

// parseRedirectFlags validates the traffic annotations and returns the
// flags for the set ones, values normalised (no spaces).
func parseRedirectFlags(annotations map[string]string) ([]string, error) {
	var flags []string
	for _, r := range redirectAnnotations {
		v, ok := annotations[r.annotation]
		if !ok {
			continue
		}
		norm, err := normaliseList(v, r.cidrs, r.star)
		if err != nil {
			return nil, annotationError(r.annotation, v, err)
		}
		flags = append(flags, r.flag+"="+norm)
	}
	return flags, nil
}

// normaliseList checks a comma list of CIDRs or ports ("" is an empty list;
// "*" alone means all when star is allowed).
func normaliseList(v string, cidrs, star bool) (string, error) {
	v = strings.TrimSpace(v)
	if v == "" {
		return "", nil
	}
	if v == "*" {
		if !star {
			return "", fmt.Errorf(`"*" is not allowed here`)
		}
		return v, nil
	}
	items := strings.Split(v, ",")
	for i, item := range items {
		item = strings.TrimSpace(item)
		if cidrs {
			p, err := netip.ParsePrefix(item)
			if err != nil {
				return "", fmt.Errorf("%q is not a CIDR", item)
			}
			item = p.String()
		} else {
			port, err := strconv.ParseUint(item, 10, 16)
			if err != nil || port == 0 {
				return "", fmt.Errorf("%q is not a port (1-65535)", item)
			}
			item = strconv.FormatUint(port, 10)
		}
		items[i] = item
	}
	return strings.Join(items, ","), nil
}
