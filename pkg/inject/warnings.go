package inject

import (
	"fmt"
	"slices"
	"sort"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/reflect/protoreflect"
	"istio.io/api/annotation"
	meshconfig "istio.io/api/mesh/v1alpha1"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"
)

// actedOn are the Istio pod annotations the injector reads or writes.
var actedOn = []string{
	annotationSidecarInject, annotationStatus, annotationTemplates, annotationProxyConfig, annotationRewriteProbes,
	annotationProxyCPU, annotationProxyMemory, annotationProxyCPULimit, annotationProxyMemLimit,
	annotationIncludeOutCIDR, annotationExcludeOutCIDR, annotationIncludeInPorts, annotationExcludeInPorts,
	annotationIncludeOutPort, annotationExcludeOutPort, annotationRev, annotationInterception,
	annotationProxyImage, annotationUserVolume, annotationUserVolumeMount,
	annotationStatusPort, annotationReadyDelay, annotationReadyPeriod, annotationReadyFailures,
	annotationLogLevel, annotationComponentLog, annotationAgentLog,
}

// sidecarOnly are the annotations of actedOn that only the sidecar template
// acts on: the grpc-agent template has no redirect, no Envoy and no status port.
var sidecarOnly = []string{
	annotationRewriteProbes, annotationInterception,
	annotationIncludeOutCIDR, annotationExcludeOutCIDR, annotationIncludeInPorts, annotationExcludeInPorts,
	annotationIncludeOutPort, annotationExcludeOutPort,
	annotationStatusPort, annotationReadyDelay, annotationReadyPeriod, annotationReadyFailures,
	annotationLogLevel, annotationComponentLog,
}

// proxyConfigFieldsActedOn are the fields of proxy.istio.io/config the injector reads, and
// proxyConfigFieldsSidecarOnly those of them only the sidecar template acts on.
var (
	proxyConfigFieldsActedOn = []protoreflect.Name{
		"hold_application_until_proxy_starts", "termination_drain_duration",
		"concurrency", "drain_duration", "proxy_metadata", "status_port",
	}
	proxyConfigFieldsSidecarOnly = []protoreflect.Name{
		"hold_application_until_proxy_starts", "termination_drain_duration",
		"concurrency", "drain_duration", "status_port",
	}
)

// Warnings names what of the pod's Istio configuration the injector accepts but does not
// act on: Istio pod annotations it does not implement (or not for the pod's template), and
// proxy.istio.io/config fields other than the ones it reads. The webhook returns them as
// admission warnings, so that nothing a user sets is ignored silently.
func Warnings(pod *corev1.Pod) []string {
	template, _ := parseTemplate(pod.Annotations) // a bad value is refused by Inject
	var out []string
	for _, a := range annotation.AllResourceAnnotations() {
		if _, set := pod.Annotations[a.Name]; !set || !appliesToPods(a) {
			continue
		}
		switch {
		case !slices.Contains(actedOn, a.Name):
			out = append(out, fmt.Sprintf("annotation %s: not acted on by Loom's injector", a.Name))
		case template == TemplateGRPCAgent && slices.Contains(sidecarOnly, a.Name):
			out = append(out, fmt.Sprintf("annotation %s: not acted on by Loom's %s template", a.Name, TemplateGRPCAgent))
		}
	}
	if value, ok := pod.Annotations[annotationProxyConfig]; ok {
		out = append(out, ignoredProxyConfigFields(value, template)...)
	}
	for _, scope := range agentScopesIgnored(pod.Annotations[annotationAgentLog]) {
		out = append(out, fmt.Sprintf("annotation %s: scope %s is Istio's agent's; Loom's agent has one logger (scopes %s and %s)",
			annotationAgentLog, scope, agentScopeDefault, agentScopeAll))
	}
	sort.Strings(out)
	return out
}

func appliesToPods(a *annotation.Instance) bool {
	return slices.Contains(a.Resources, annotation.Pod) || slices.Contains(a.Resources, annotation.Any)
}

// ignoredProxyConfigFields names the fields set in a proxy.istio.io/config value that the
// injector does not read for template (an unparsable value is refused by Inject, not warned
// about here).
func ignoredProxyConfigFields(value, template string) []string {
	js, err := yaml.YAMLToJSON([]byte(value))
	if err != nil || string(js) == "null" {
		return nil
	}
	var pc meshconfig.ProxyConfig
	if err := (protojson.UnmarshalOptions{DiscardUnknown: true}).Unmarshal(js, &pc); err != nil {
		return nil
	}
	var out []string
	pc.ProtoReflect().Range(func(f protoreflect.FieldDescriptor, _ protoreflect.Value) bool {
		switch {
		case !slices.Contains(proxyConfigFieldsActedOn, f.Name()):
			out = append(out, fmt.Sprintf("annotation %s: field %s is not acted on by Loom's injector", annotationProxyConfig, f.JSONName()))
		case template == TemplateGRPCAgent && slices.Contains(proxyConfigFieldsSidecarOnly, f.Name()):
			out = append(out, fmt.Sprintf("annotation %s: field %s is not acted on by Loom's %s template", annotationProxyConfig, f.JSONName(), TemplateGRPCAgent))
		}
		return true
	})
	for name := range pc.GetProxyMetadata() {
		if !slices.Contains(agentEnvRead, name) {
			out = append(out, fmt.Sprintf("annotation %s: proxyMetadata %s is set on %s, but Loom's agent does not read it", annotationProxyConfig, name, containerProxy))
		}
	}
	return out
}

// agentEnvRead are the environment variables `loom agent` reads (internal/cli/agent.go and
// the Go runtime): proxyMetadata setting one of them changes what the agent does; Istio's
// agent reads many more (ISTIO_META_DNS_CAPTURE, ...), which Loom's ignores.
var agentEnvRead = []string{
	"POD_NAME", "POD_NAMESPACE", "SERVICE_ACCOUNT", "INSTANCE_IP", "INSTANCE_IPS", "ISTIO_METAJSON_LABELS",
	"ISTIO_META_CLUSTER_ID", "TRUST_DOMAIN", "CA_ADDR", "XDS_ADDRESS", envAppProbers,
	"GOMAXPROCS", "GOMEMLIMIT", "GOGC", "GODEBUG", "GOTRACEBACK",
}
