package inject

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
)

// Inject returns a mutated deep copy of pod with the template the pod asks
// for (annotation inject.istio.io/templates; sidecar by default). It does
// not decide whether to inject (see Decide); it refuses a pod already
// injected. Errors name the annotation and the value at fault.
func Inject(ns Namespace, pod *corev1.Pod, s Settings) (*corev1.Pod, error) {
	if pod == nil {
		return nil, errors.New("no pod to inject")
	}
	if v, ok := pod.Annotations[annotationStatus]; ok {
		return nil, fmt.Errorf("pod is already injected (annotation %s=%q)", annotationStatus, v)
	}
	if err := s.Validate(); err != nil {
		return nil, err
	}
	opts, err := parseOptions(pod.Annotations, s)
	if err != nil {
		return nil, err
	}
	custom, err := parseOverrides(pod)
	if err != nil {
		return nil, err
	}
	if err := checkNameClashes(&pod.Spec); err != nil {
		return nil, err
	}
	out := pod.DeepCopy()
	if out.Namespace == "" {
		out.Namespace = ns.Name
	}
	setLabels(out, opts.template, s.revision())
	var added injected
	switch opts.template {
	case TemplateGRPCAgent:
		added, err = injectGRPCAgent(out, opts, s)
	default:
		added, err = injectSidecar(out, opts, s)
	}
	if err != nil {
		return nil, err
	}
	if err := custom.apply(out, &added); err != nil {
		return nil, err
	}
	setAnnotations(out, added, s)
	return out, nil
}

// injected names what a template added, for sidecar.istio.io/status.
type injected struct {
	initContainers, containers, volumes []string
}

// checkNameClashes refuses pods that already define what the templates
// add, but for a container named istio-proxy, which is merged over the
// injected one as Istio does (see overrides).
func checkNameClashes(spec *corev1.PodSpec) error {
	for i, list := range [][]corev1.Container{spec.InitContainers, spec.Containers} {
		for _, c := range list {
			switch {
			case c.Name == containerProxy && i == 1:
			case c.Name == containerInit, c.Name == containerProxy, c.Name == containerAgentInit:
				return fmt.Errorf("pod already has a container named %s, which injection adds", c.Name)
			}
		}
	}
	for _, v := range spec.Volumes {
		switch v.Name {
		case volumeLoom, volumeToken, volumeCARoot:
			return fmt.Errorf("pod already has a volume named %s, which injection adds", v.Name)
		}
	}
	return nil
}

// setLabels adds the labels Istio's templates set, keeping the pod's own:
// the canonical service name and revision, and (sidecar only: a proxyless
// gRPC app must opt into mTLS itself) security.istio.io/tlsMode=istio. It
// also labels the pod istio.io/rev with the revision that injected it (as
// Istio's templates once did; today's write only the annotation): the
// operator counts a revision's workloads by this label, and must not retire
// a revision whose proxies still run.
func setLabels(pod *corev1.Pod, template, revision string) {
	if pod.Labels == nil {
		pod.Labels = map[string]string{}
	}
	l := pod.Labels
	l[labelRev] = revision
	if _, ok := l[labelCanonicalName]; !ok {
		l[labelCanonicalName] = firstNonEmpty(l[labelAppName], l[labelApp], workloadName(pod))
	}
	if _, ok := l[labelCanonicalRevision]; !ok {
		l[labelCanonicalRevision] = firstNonEmpty(l[labelAppVersion], l[labelVersion], "latest")
	}
	if _, ok := l[labelTLSMode]; !ok && template == TemplateSidecar {
		l[labelTLSMode] = "istio"
	}
}

// workloadName is the name of the workload that owns the pod, as Istio
// derives it: a Deployment's name from its ReplicaSet's, else the
// controller's name, else the generated name's prefix, else the pod's name.
func workloadName(pod *corev1.Pod) string {
	hash := pod.Labels["pod-template-hash"]
	for _, ref := range pod.OwnerReferences {
		if ref.Controller == nil || !*ref.Controller {
			continue
		}
		if ref.Kind == "ReplicaSet" && hash != "" {
			if name, ok := strings.CutSuffix(ref.Name, "-"+hash); ok {
				return name
			}
		}
		return ref.Name
	}
	if pod.GenerateName != "" {
		name := strings.TrimSuffix(pod.GenerateName, "-")
		if hash != "" {
			name = strings.TrimSuffix(name, "-"+hash)
		}
		return name
	}
	return pod.Name
}

func firstNonEmpty(values ...string) string {
	for _, v := range values {
		if v != "" {
			return v
		}
	}
	return ""
}

// setAnnotations writes what Istio's injector writes back: the injection
// status, the revision, and the app container kubectl should default to.
func setAnnotations(pod *corev1.Pod, added injected, s Settings) {
	if pod.Annotations == nil {
		pod.Annotations = map[string]string{}
	}
	a := pod.Annotations
	a[annotationStatus] = statusJSON(added, s.revision())
	a[annotationRev] = s.revision()
	if len(pod.Spec.Containers) > 0 {
		first := pod.Spec.Containers[0].Name
		if _, ok := a[annotationDefaultContainer]; !ok {
			a[annotationDefaultContainer] = first
		}
		if _, ok := a[annotationDefaultLogsContainer]; !ok {
			a[annotationDefaultLogsContainer] = first
		}
	}
}

// sidecarStatus is Istio's sidecar.istio.io/status (empty lists are null,
// as Istio writes them).
type sidecarStatus struct {
	InitContainers   []string `json:"initContainers"`
	Containers       []string `json:"containers"`
	Volumes          []string `json:"volumes"`
	ImagePullSecrets []string `json:"imagePullSecrets"`
	Revision         string   `json:"revision"`
}

func statusJSON(added injected, revision string) string {
	data, _ := json.Marshal(sidecarStatus{ // strings always marshal
		InitContainers: added.initContainers,
		Containers:     added.containers,
		Volumes:        added.volumes,
		Revision:       revision,
	})
	return string(data)
}

// prepend puts the injected init containers ahead of the pod's own, so the
// pod's init containers already run in the mesh.
func prepend(spec *corev1.PodSpec, containers ...corev1.Container) []string {
	names := make([]string, len(containers))
	for i, c := range containers {
		names[i] = c.Name
	}
	spec.InitContainers = append(containers, spec.InitContainers...)
	return names
}

// addVolumes appends the agent's volumes and returns their names.
func addVolumes(spec *corev1.PodSpec) []string {
	var names []string
	for _, v := range agentVolumes() {
		spec.Volumes = append(spec.Volumes, v)
		names = append(names, v.Name)
	}
	return names
}
