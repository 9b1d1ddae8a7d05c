// Package render turns Loom's embedded Helm charts and a set of values into Kubernetes
// objects, with the Helm SDK as a library: no release is stored and nothing is applied.
package render

import (
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strings"

	"helm.sh/helm/v3/pkg/chart"
	"helm.sh/helm/v3/pkg/chart/loader"
	"helm.sh/helm/v3/pkg/chartutil"
	"helm.sh/helm/v3/pkg/engine"
	"helm.sh/helm/v3/pkg/releaseutil"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"
)

// Names of the embedded charts.
const (
	ControlPlane = "control-plane"
	Gateway      = "gateway"
	Prometheus   = "prometheus"
	Grafana      = "grafana"
	Jaeger       = "jaeger"
)

//go:embed all:charts
var chartFiles embed.FS

// InvalidValuesError reports values that break a chart's values.schema.json.
type InvalidValuesError struct {
	Chart string
	Err   error
}

func (e *InvalidValuesError) Error() string {
	return fmt.Sprintf("values for chart %s are invalid: %v", e.Chart, e.Err)
}

func (e *InvalidValuesError) Unwrap() error { return e.Err }

// Release names one rendering of a chart.
type Release struct {
	Name      string
	Namespace string
}

// Renderer renders the embedded charts. It is safe for concurrent use.
type Renderer struct {
	charts map[string]*chart.Chart
}

// New loads every embedded chart.
func New() (*Renderer, error) {
	dirs, err := fs.ReadDir(chartFiles, "charts")
	if err != nil {
		return nil, err
	}
	r := &Renderer{charts: map[string]*chart.Chart{}}
	for _, d := range dirs {
		ch, err := loadChart(path.Join("charts", d.Name()))
		if err != nil {
			return nil, fmt.Errorf("loading chart %s: %w", d.Name(), err)
		}
		r.charts[d.Name()] = ch
	}
	return r, nil
}

func loadChart(root string) (*chart.Chart, error) {
	var files []*loader.BufferedFile
	err := fs.WalkDir(chartFiles, root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := chartFiles.ReadFile(p)
		if err != nil {
			return err
		}
		files = append(files, &loader.BufferedFile{Name: strings.TrimPrefix(p, root+"/"), Data: data})
		return nil
	})
	if err != nil {
		return nil, err
	}
	return loader.LoadFiles(files)
}

// Render renders a chart with values over the chart's defaults, validated against its
// schema, and returns the objects in Helm's install order (by kind, then namespace and name).
func (r *Renderer) Render(chartName string, rel Release, values map[string]any) ([]*unstructured.Unstructured, error) {
	ch, ok := r.charts[chartName]
	if !ok {
		return nil, fmt.Errorf("no chart named %q", chartName)
	}
	opts := chartutil.ReleaseOptions{Name: rel.Name, Namespace: rel.Namespace, IsInstall: true}
	renderValues, err := chartutil.ToRenderValues(ch, values, opts, chartutil.DefaultCapabilities)
	if err != nil {
		return nil, &InvalidValuesError{Chart: chartName, Err: err}
	}
	files, err := engine.Render(ch, renderValues)
	if err != nil {
		return nil, fmt.Errorf("rendering chart %s: %w", chartName, err)
	}
	return decodeManifests(chartName, files)
}

func decodeManifests(chartName string, files map[string]string) ([]*unstructured.Unstructured, error) {
	var objs []*unstructured.Unstructured
	var errs []error
	for name, content := range files {
		if !strings.HasSuffix(name, ".yaml") {
			continue
		}
		for _, doc := range releaseutil.SplitManifests(content) {
			data, err := yaml.YAMLToJSON([]byte(doc))
			if err != nil {
				errs = append(errs, fmt.Errorf("chart %s, %s: %w", chartName, name, err))
				continue
			}
			if s := strings.TrimSpace(string(data)); s == "null" || s == "{}" {
				continue
			}
			obj := &unstructured.Unstructured{}
			if err := obj.UnmarshalJSON(data); err != nil {
				errs = append(errs, fmt.Errorf("chart %s, %s: %w", chartName, name, err))
				continue
			}
			if _, hook := obj.GetAnnotations()["helm.sh/hook"]; hook {
				errs = append(errs, fmt.Errorf("chart %s, %s: hooks are not supported", chartName, name))
				continue
			}
			objs = append(objs, obj)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	sort.Slice(objs, func(i, j int) bool {
		a, b := objs[i], objs[j]
		if ka, kb := kindRank(a.GetKind()), kindRank(b.GetKind()); ka != kb {
			return ka < kb
		}
		if a.GetKind() != b.GetKind() {
			return a.GetKind() < b.GetKind()
		}
		if a.GetNamespace() != b.GetNamespace() {
			return a.GetNamespace() < b.GetNamespace()
		}
		return a.GetName() < b.GetName()
	})
	return objs, nil
}

func kindRank(kind string) int {
	for i, k := range releaseutil.InstallOrder {
		if k == kind {
			return i
		}
	}
	return len(releaseutil.InstallOrder)
}
