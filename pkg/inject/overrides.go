package inject

import (
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strings"

	"istio.io/api/annotation"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/strategicpatch"
	"k8s.io/apimachinery/pkg/util/validation"
)

var (
	annotationProxyImage      = annotation.SidecarProxyImage.Name
	annotationUserVolume      = annotation.SidecarUserVolume.Name
	annotationUserVolumeMount = annotation.SidecarUserVolumeMount.Name
)

// imageReference is the grammar of an image reference (the distribution project's, without
// its rarely used corners): what kubelet would refuse to pull is refused at admission.
var imageReference = regexp.MustCompile(`^(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)*(?::[0-9]+)?/)?` +
	`[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*` +
	`(?::[\w][\w.-]{0,127})?(?:@[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,})?$`)

// imageAuto is the image a pod's own istio-proxy container names to keep the injected one
// (Istio's convention).
const imageAuto = "auto"

// overrides are what the pod asks of its istio-proxy container beyond the template:
// sidecar.istio.io/proxyImage, userVolume and userVolumeMount, and a container named
// istio-proxy of its own, merged over the injected one as Istio does.
type overrides struct {
	image   string
	volumes []corev1.Volume
	mounts  []corev1.VolumeMount
	custom  *corev1.Container
}

func parseOverrides(pod *corev1.Pod) (overrides, error) {
	var o overrides
	a := pod.Annotations
	if v, ok := a[annotationProxyImage]; ok {
		if !imageReference.MatchString(v) {
			return o, annotationError(annotationProxyImage, v, fmt.Errorf("not an image reference ([registry[:port]/]repository[:tag][@digest], lower-case repository)"))
		}
		o.image = v
	}
	if v, ok := a[annotationUserVolume]; ok {
		var err error
		if o.volumes, err = parseNamed(v, func(n string, vol *corev1.Volume) { vol.Name = n }, func(vol corev1.Volume) string { return vol.Name }); err != nil {
			return o, annotationError(annotationUserVolume, v, err)
		}
		for _, vol := range o.volumes {
			if errs := validation.IsDNS1123Label(vol.Name); len(errs) > 0 {
				return o, annotationError(annotationUserVolume, v, fmt.Errorf("volume name %q: %s", vol.Name, strings.Join(errs, "; ")))
			}
		}
	}
	if v, ok := a[annotationUserVolumeMount]; ok {
		var err error
		if o.mounts, err = parseNamed(v, func(n string, m *corev1.VolumeMount) { m.Name = n }, func(m corev1.VolumeMount) string { return m.Name }); err != nil {
			return o, annotationError(annotationUserVolumeMount, v, err)
		}
		for _, m := range o.mounts {
			if !strings.HasPrefix(m.MountPath, "/") {
				return o, annotationError(annotationUserVolumeMount, v, fmt.Errorf("volume %s: mountPath %q must be absolute", m.Name, m.MountPath))
			}
		}
	}
	for _, c := range pod.Spec.Containers {
		if c.Name == containerProxy {
			o.custom = c.DeepCopy()
		}
	}
	return o, nil
}

// parseNamed reads Istio's JSON object of name -> item (or a JSON array of named items),
// ordered by name.
func parseNamed[T any](value string, setName func(string, *T), nameOf func(T) string) ([]T, error) {
	var out []T
	var byName map[string]T
	if err := json.Unmarshal([]byte(value), &byName); err == nil {
		for n, item := range byName {
			setName(n, &item)
			out = append(out, item)
		}
	} else if err := json.Unmarshal([]byte(value), &out); err != nil {
		return nil, fmt.Errorf("want a JSON object of name to item, or a JSON array of named items: %w", err)
	}
	slices.SortFunc(out, func(a, b T) int { return strings.Compare(nameOf(a), nameOf(b)) })
	for i, item := range out {
		if nameOf(item) == "" {
			return nil, fmt.Errorf("item %d has no name", i)
		}
		if i > 0 && nameOf(out[i-1]) == nameOf(item) {
			return nil, fmt.Errorf("%q given twice", nameOf(item))
		}
	}
	return out, nil
}

// apply changes the injected istio-proxy container of pod (an init container: a native
// sidecar) and adds the user's volumes; the pod's own istio-proxy container is merged into
// it with a strategic merge patch and leaves the containers.
func (o overrides) apply(pod *corev1.Pod, added *injected) error {
	i := slices.IndexFunc(pod.Spec.InitContainers, func(c corev1.Container) bool { return c.Name == containerProxy })
	if i < 0 {
		return fmt.Errorf("no %s container injected", containerProxy)
	}
	proxy := &pod.Spec.InitContainers[i]
	if o.image != "" {
		proxy.Image = o.image
	}
	for _, v := range o.volumes {
		if slices.ContainsFunc(pod.Spec.Volumes, func(have corev1.Volume) bool { return have.Name == v.Name }) {
			return annotationError(annotationUserVolume, pod.Annotations[annotationUserVolume], fmt.Errorf("the pod already has a volume %s", v.Name))
		}
		pod.Spec.Volumes = append(pod.Spec.Volumes, v)
		added.volumes = append(added.volumes, v.Name)
	}
	for _, m := range o.mounts {
		if !slices.ContainsFunc(pod.Spec.Volumes, func(v corev1.Volume) bool { return v.Name == m.Name }) {
			return annotationError(annotationUserVolumeMount, pod.Annotations[annotationUserVolumeMount], fmt.Errorf("no volume %s in the pod", m.Name))
		}
		proxy.VolumeMounts = append(proxy.VolumeMounts, m)
	}
	if o.custom == nil {
		return nil
	}
	merged, err := mergeContainer(*proxy, *o.custom)
	if err != nil {
		return fmt.Errorf("container %s of the pod: %w", containerProxy, err)
	}
	*proxy = merged
	pod.Spec.Containers = slices.DeleteFunc(pod.Spec.Containers, func(c corev1.Container) bool { return c.Name == containerProxy })
	return nil
}

// mergeContainer merges the pod's own istio-proxy container over the injected one: what the
// pod sets wins, lists merge by their keys (env by name, mounts by path, ports by number).
// An image "auto" or "" keeps the injected image and pull policy.
func mergeContainer(injected, custom corev1.Container) (corev1.Container, error) {
	if custom.Image == "" || custom.Image == imageAuto {
		custom.Image, custom.ImagePullPolicy = "", ""
	}
	original, err := json.Marshal(injected)
	if err != nil {
		return injected, err
	}
	patch, err := json.Marshal(custom)
	if err != nil {
		return injected, err
	}
	out, err := strategicpatch.StrategicMergePatch(original, patch, corev1.Container{})
	if err != nil {
		return injected, err
	}
	var merged corev1.Container
	if err := json.Unmarshal(out, &merged); err != nil {
		return injected, err
	}
	return merged, nil
}
