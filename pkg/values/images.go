package values

import (
	"fmt"
	"strings"

	"loom.dev/loom/pkg/render"
)

// Loom's own images are named without a registry (loom, loom-proxy) so that a local build
// runs as is; an image registry qualifies them for clusters that pull from one.

// DefaultImageRepository is the control plane's and the agent's repository; the injected
// proxy's is the same with -proxy appended (the control-plane chart derives it).
const DefaultImageRepository = "loom"

// QualifyImage prefixes an image reference that names no registry with registry. A
// reference that already names one (a first path element with a dot or a port, or
// localhost) and an empty registry leave it unchanged; tags and digests are kept as they are.
func QualifyImage(registry, image string) string {
	registry = strings.TrimRight(registry, "/")
	if registry == "" || image == "" || namesRegistry(image) {
		return image
	}
	return registry + "/" + image
}

// namesRegistry tells whether a reference's first path element is a registry host, by the
// rule of the distribution reference grammar that Docker and containerd apply.
func namesRegistry(image string) bool {
	first, _, found := strings.Cut(image, "/")
	if !found {
		return false
	}
	return strings.ContainsAny(first, ".:") || first == "localhost"
}

// ValidateImageRegistry rejects a registry that cannot prefix an image reference: a URL
// scheme, a tag or digest, whitespace or an empty path element.
func ValidateImageRegistry(registry string) error {
	r := strings.TrimRight(registry, "/")
	switch {
	case registry == "":
		return nil
	case r == "":
		return fmt.Errorf("image registry %q: no host", registry)
	case strings.Contains(r, "://"):
		return fmt.Errorf("image registry %q: give a host[:port][/path], not a URL", registry)
	case strings.ContainsAny(r, "@ \t\n"):
		return fmt.Errorf("image registry %q: contains '@' or whitespace", registry)
	case strings.Contains(r, "//") || strings.HasPrefix(r, "/"):
		return fmt.Errorf("image registry %q: empty path element", registry)
	}
	return nil
}

// WithImageRegistry qualifies the Loom images in a chart's values with registry: the
// control plane's image (and so the injected agent and proxy images derived from it, or an
// explicit injector.proxyImage) and the gateway's agent. Third-party images (Envoy,
// Prometheus, Grafana, Jaeger) keep their registry; spec.values overrides them. An empty
// registry returns vals itself; otherwise vals is not modified.
func WithImageRegistry(chart string, vals map[string]any, registry string) map[string]any {
	if strings.TrimRight(registry, "/") == "" {
		return vals
	}
	switch chart {
	case render.ControlPlane:
		out := copyMap(vals)
		image := copyMap(mapAt(vals, "image"))
		repo, _ := image["repository"].(string)
		if repo == "" {
			repo = DefaultImageRepository
		}
		image["repository"] = QualifyImage(registry, repo)
		out["image"] = image
		if proxy, _ := mapAt(vals, "injector")["proxyImage"].(string); proxy != "" {
			injector := copyMap(mapAt(vals, "injector"))
			injector["proxyImage"] = QualifyImage(registry, proxy)
			out["injector"] = injector
		}
		return out
	case render.Gateway:
		agent := mapAt(vals, "agent")
		image := copyMap(mapAt(agent, "image"))
		repo, _ := image["repository"].(string)
		if repo == "" {
			repo = DefaultImageRepository
		}
		image["repository"] = QualifyImage(registry, repo)
		agent = copyMap(agent)
		agent["image"] = image
		out := copyMap(vals)
		out["agent"] = agent
		return out
	}
	return vals
}

func mapAt(m map[string]any, key string) map[string]any {
	v, _ := m[key].(map[string]any)
	return v
}

// copyMap copies the top level of m, so that setting a key leaves m as it was.
func copyMap(m map[string]any) map[string]any {
	out := make(map[string]any, len(m)+1)
	for k, v := range m {
		out[k] = v
	}
	return out
}
