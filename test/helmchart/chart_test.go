// Package helmchart tests charts/loom-operator with the Helm SDK: lint, template, schema and
// an install, upgrade and uninstall against a local kube-apiserver with a kwok node.
package helmchart

import (
	"os"
	"path/filepath"
	"testing"

	"helm.sh/helm/v3/pkg/action"
	"helm.sh/helm/v3/pkg/chart"
	"helm.sh/helm/v3/pkg/chart/loader"
	"helm.sh/helm/v3/pkg/chartutil"
	"helm.sh/helm/v3/pkg/releaseutil"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/yaml"

	"loom.dev/loom/internal/devcluster"
)

const (
	chartDir         = "../../charts/loom-operator"
	configDir        = "../../config"
	releaseName      = "loom-operator"
	releaseNamespace = "loom-system"
	// The local cluster's version.
	kubeVersion = devcluster.KubernetesVersion
)

func loadChart(t *testing.T, dir string) *chart.Chart {
	t.Helper()
	c, err := loader.Load(dir)
	if err != nil {
		t.Fatalf("loading chart %s: %v", dir, err)
	}
	return c
}

// template renders the chart as `helm template --include-crds` does.
func template(c *chart.Chart, vals map[string]any) (manifest, notes string, err error) {
	inst := action.NewInstall(&action.Configuration{Log: func(string, ...any) {}})
	inst.DryRun = true
	inst.ClientOnly = true
	inst.Replace = true
	inst.IncludeCRDs = true
	inst.ReleaseName = releaseName
	inst.Namespace = releaseNamespace
	// As `helm template --kube-version`: the SDK's default is v1.20, older than the chart allows.
	if inst.KubeVersion, err = chartutil.ParseKubeVersion(kubeVersion); err != nil {
		return "", "", err
	}
	rel, err := inst.Run(c, vals)
	if err != nil {
		return "", "", err
	}
	return rel.Manifest, rel.Info.Notes, nil
}

// objects is a rendered manifest indexed by "Kind/name".
type objects map[string]*unstructured.Unstructured

func parseManifest(t *testing.T, manifest string) objects {
	t.Helper()
	objs := objects{}
	for name, doc := range releaseutil.SplitManifests(manifest) {
		var m map[string]any
		if err := yaml.Unmarshal([]byte(doc), &m); err != nil {
			t.Fatalf("%s is not YAML: %v\n%s", name, err, doc)
		}
		if m == nil {
			continue
		}
		u := &unstructured.Unstructured{Object: m}
		key := u.GetKind() + "/" + u.GetName()
		if _, dup := objs[key]; dup {
			t.Fatalf("%s rendered twice", key)
		}
		objs[key] = u
	}
	return objs
}

// get converts the object named key into out, failing when it was not rendered.
func (o objects) get(t *testing.T, key string, out any) {
	t.Helper()
	u, ok := o[key]
	if !ok {
		t.Fatalf("%s not rendered; have %v", key, o.keys())
	}
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, out); err != nil {
		t.Fatalf("%s: %v", key, err)
	}
}

func (o objects) keys() []string {
	keys := make([]string, 0, len(o))
	for k := range o {
		keys = append(keys, k)
	}
	return keys
}

// readYAML decodes the file at path (the project's config/, a chart copy) into out.
func readYAML(t *testing.T, path string, out any) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(data, out); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

func crdFiles(t *testing.T) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(configDir, "crd", "bases", "*.yaml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no CRDs in config/crd/bases (%v)", err)
	}
	return files
}

func readValuesFile(t *testing.T, path string) map[string]any {
	t.Helper()
	vals := map[string]any{}
	readYAML(t, path, &vals)
	return vals
}
