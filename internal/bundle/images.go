package bundle

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	operatorsv1alpha1 "github.com/operator-framework/api/pkg/operators/v1alpha1"
	"sigs.k8s.io/yaml"

	"loom.dev/loom/pkg/values"
)

// chartValues is the part of an embedded chart's values.yaml that names images.
type chartValues struct {
	Version string     `json:"version"`
	Image   chartImage `json:"image"`
	Agent   struct {
		Image chartImage `json:"image"`
	} `json:"agent"`
	Injector struct {
		ProxyImage string `json:"proxyImage"`
	} `json:"injector"`
}

type chartImage struct {
	Repository string `json:"repository"`
	Tag        string `json:"tag"`
}

// chartImages returns the images the operator deploys by default, read from the embedded
// charts' values (pkg/render/charts), so relatedImages lists what a mirror needs. Loom's
// own images are qualified with registry by the operator's own rule
// (values.WithImageRegistry, what `loom operator --image-registry` applies), so the list
// names the images the operator really pulls. The control-plane chart's tag defaults to
// v<version> and its injected proxy image to <repository>-proxy with that tag, as its
// deployment template does.
func chartImages(chartsDir, registry string) ([]operatorsv1alpha1.RelatedImage, error) {
	dirs, err := os.ReadDir(chartsDir)
	if err != nil {
		return nil, fmt.Errorf("charts %s: %w", chartsDir, err)
	}
	seen := map[string]string{}
	for _, dir := range dirs {
		if !dir.IsDir() {
			continue
		}
		chart := dir.Name()
		path := filepath.Join(chartsDir, chart, "values.yaml")
		v, err := readChartValues(path, chart, registry)
		if err != nil {
			return nil, err
		}
		main := v.Image
		if main.Tag == "" && v.Version != "" {
			main.Tag = "v" + v.Version
		}
		if main.Repository != "" {
			if main.Tag == "" {
				return nil, fmt.Errorf("%s: image.tag is empty and no version gives it", path)
			}
			add(seen, qualify(main.Repository+":"+main.Tag), chart)
			if chart == "control-plane" {
				proxy := v.Injector.ProxyImage
				if proxy == "" {
					proxy = main.Repository + "-proxy:" + main.Tag
				}
				add(seen, qualify(proxy), "proxy")
			}
		}
		if a := v.Agent.Image; a.Repository != "" && a.Tag != "" {
			add(seen, qualify(a.Repository+":"+a.Tag), chart+"-agent")
		}
	}
	images := make([]operatorsv1alpha1.RelatedImage, 0, len(seen))
	for image, name := range seen {
		images = append(images, operatorsv1alpha1.RelatedImage{Name: name, Image: image})
	}
	sort.Slice(images, func(i, j int) bool { return images[i].Name < images[j].Name })
	return images, nil
}

// readChartValues reads path's values as the operator renders them with registry set.
func readChartValues(path, chart, registry string) (chartValues, error) {
	var v chartValues
	data, err := os.ReadFile(path)
	if err != nil {
		return v, err
	}
	var raw map[string]any
	if err := yaml.Unmarshal(data, &raw); err != nil {
		return v, fmt.Errorf("%s: %w", path, err)
	}
	qualified, err := json.Marshal(values.WithImageRegistry(chart, raw, registry))
	if err != nil {
		return v, fmt.Errorf("%s: %w", path, err)
	}
	if err := json.Unmarshal(qualified, &v); err != nil {
		return v, fmt.Errorf("%s: %w", path, err)
	}
	return v, nil
}

// add names image once: two charts may deploy one image (the gateway's agent is the
// control-plane image), and the charts are read in name order.
func add(seen map[string]string, image, name string) {
	if _, ok := seen[image]; !ok {
		seen[image] = name
	}
}

// qualify spells an image as a container runtime resolves it: a Docker Hub name without a
// registry gets docker.io (and library/ when it has no organisation).
func qualify(image string) string {
	first, _, hasSlash := strings.Cut(image, "/")
	if hasSlash && (strings.ContainsAny(first, ".:") || first == "localhost") {
		return image
	}
	if !hasSlash {
		return "docker.io/library/" + image
	}
	return "docker.io/" + image
}
