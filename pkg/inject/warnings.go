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
}

// proxyConfigFieldsActedOn are the fields of proxy.istio.io/config the injector reads.
var proxyConfigFieldsActedOn = []protoreflect.Name{"hold_application_until_proxy_starts", "termination_drain_duration"}

// Warnings names what of the pod's Istio configuration the injector accepts but does not
// act on: Istio pod annotations it does not implement, and proxy.istio.io/config fields other
// than the ones it reads. The webhook returns them as admission warnings, so that nothing a
// user sets is ignored silently.
func Warnings(pod *corev1.Pod) []string {
	var out []string
	for _, a := range annotation.AllResourceAnnotations() {
		if _, set := pod.Annotations[a.Name]; !set || slices.Contains(actedOn, a.Name) || !appliesToPods(a) {
			continue
		}
		out = append(out, fmt.Sprintf("annotation %s: not acted on by Loom's injector", a.Name))
	}
	if value, ok := pod.Annotations[annotationProxyConfig]; ok {
		out = append(out, ignoredProxyConfigFields(value)...)
	}
	sort.Strings(out)
	return out
}

func appliesToPods(a *annotation.Instance) bool {
	return slices.Contains(a.Resources, annotation.Pod) || slices.Contains(a.Resources, annotation.Any)
}

// ignoredProxyConfigFields names the fields set in a proxy.istio.io/config value that the
// injector does not read (an unparsable value is refused by Inject, not warned about here).
func ignoredProxyConfigFields(value string) []string {
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
		if !slices.Contains(proxyConfigFieldsActedOn, f.Name()) {
			out = append(out, fmt.Sprintf("annotation %s: field %s is not acted on by Loom's injector", annotationProxyConfig, f.JSONName()))
		}
		return true
	})
	return out
}
