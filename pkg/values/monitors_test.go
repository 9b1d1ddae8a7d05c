package values

import (
	"encoding/json"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/relabel"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"

	operatorv1alpha1 "loom.dev/loom/api/v1alpha1"
	"loom.dev/loom/internal/golden"
	"loom.dev/loom/pkg/render"
)

// addonRulesFile is the Prometheus add-on's rules, which the monitors must carry unchanged.
const addonRulesFile = "../render/charts/prometheus/files/rules.yaml"

func renderMonitors(t *testing.T, spec *operatorv1alpha1.MeshOperatorSpec) []*unstructured.Unstructured {
	t.Helper()
	vals, err := PrometheusMonitors(spec, string(mustRead(t, addonRulesFile)))
	return renderChart(t, MonitorsChart, spec.Namespace, vals, err)
}

func findNamed(t *testing.T, objs []*unstructured.Unstructured, kind, name string) *unstructured.Unstructured {
	t.Helper()
	for _, o := range objs {
		if o.GetKind() == kind && o.GetName() == name {
			return o
		}
	}
	t.Fatalf("no %s %s rendered", kind, name)
	return nil
}

// TestPrometheusMonitorsGolden renders the Prometheus Operator's objects for each profile,
// and for production with the label kube-prometheus-stack selects on.
func TestPrometheusMonitorsGolden(t *testing.T) {
	for _, profile := range profileNames {
		mesh := sample(t, profile)
		if got := PrometheusOperatorMode(&mesh.Spec); got != operatorv1alpha1.PrometheusOperatorAuto {
			t.Errorf("%s: mode %q, want the default Auto", profile, got)
		}
		golden.Assert(t, "testdata/"+profile+"-prometheus-monitors.yaml", manifest(t, renderMonitors(t, &mesh.Spec)))
	}
	mesh := sample(t, "production")
	mesh.Spec.Addons.PrometheusOperator.Labels = map[string]string{"release": "kube-prometheus-stack"}
	objs := renderMonitors(t, &mesh.Spec)
	golden.Assert(t, "testdata/production-prometheus-monitors-labels.yaml", manifest(t, objs))
	for _, o := range objs {
		if o.GetLabels()["release"] != "kube-prometheus-stack" {
			t.Errorf("%s %s lacks the label release: kube-prometheus-stack: %v", o.GetKind(), o.GetName(), o.GetLabels())
		}
	}
}

func TestWantsMonitors(t *testing.T) {
	for _, tc := range []struct {
		mode       operatorv1alpha1.PrometheusOperatorMode
		crds, want bool
	}{
		{"", false, false}, {"", true, true},
		{operatorv1alpha1.PrometheusOperatorAuto, false, false}, {operatorv1alpha1.PrometheusOperatorAuto, true, true},
		{operatorv1alpha1.PrometheusOperatorEnabled, false, true}, {operatorv1alpha1.PrometheusOperatorEnabled, true, true},
		{operatorv1alpha1.PrometheusOperatorDisabled, false, false}, {operatorv1alpha1.PrometheusOperatorDisabled, true, false},
	} {
		spec := &operatorv1alpha1.MeshOperatorSpec{}
		spec.Addons.PrometheusOperator.Mode = tc.mode
		if got := WantsMonitors(spec, tc.crds); got != tc.want {
			t.Errorf("mode %q, CRDs installed %v: got %v, want %v", tc.mode, tc.crds, got, tc.want)
		}
	}
}

// TestPrometheusRuleCarriesTheAddonRules checks that the PrometheusRule's spec is the
// add-on's rules file, and that promtool accepts it as a rules file.
func TestPrometheusRuleCarriesTheAddonRules(t *testing.T) {
	mesh := sample(t, "demo")
	rule := findNamed(t, renderMonitors(t, &mesh.Spec), "PrometheusRule", "loom")
	var want map[string]any
	if err := yaml.Unmarshal(mustRead(t, addonRulesFile), &want); err != nil {
		t.Fatal(err)
	}
	spec, _, _ := unstructured.NestedMap(rule.Object, "spec")
	if !reflect.DeepEqual(normalize(t, spec), normalize(t, want)) {
		t.Fatalf("the PrometheusRule's spec differs from %s", addonRulesFile)
	}
	groups, _, _ := unstructured.NestedSlice(spec, "groups")
	if len(groups) == 0 {
		t.Fatal("the PrometheusRule has no rule groups")
	}

	promtool, err := exec.LookPath("promtool")
	if err != nil {
		t.Fatalf("promtool not found (%v): run `make prometheus-tools` (Debian's prometheus package)", err)
	}
	data, err := yaml.Marshal(spec)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "prometheusrule.yaml")
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(promtool, "check", "rules", path).CombinedOutput()
	if err != nil {
		t.Fatalf("promtool check rules: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "SUCCESS") {
		t.Errorf("promtool check rules did not report success:\n%s", out)
	}
}

// normalize round-trips through JSON so that numbers and maps compare alike.
func normalize(t *testing.T, v any) any {
	t.Helper()
	data, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var out any
	if err := json.Unmarshal(data, &out); err != nil {
		t.Fatal(err)
	}
	return out
}

// monitorPod is a pod as Prometheus's Kubernetes pod discovery sees it.
type monitorPod struct {
	namespace, name string
	labels          map[string]string
	ports           []string // container port names
}

// targets are pod discovery's targets (role: pod), one per container port, with the meta
// labels Prometheus documents.
func (p monitorPod) targets() []labels.Labels {
	sanitize := strings.NewReplacer(".", "_", "/", "_", "-", "_")
	common := map[string]string{
		"__address__":                 "10.0.0.1",
		"__meta_kubernetes_namespace": p.namespace,
		"__meta_kubernetes_pod_name":  p.name,
		"__meta_kubernetes_pod_phase": "Running",
	}
	for k, v := range p.labels {
		common["__meta_kubernetes_pod_label_"+sanitize.Replace(k)] = v
		common["__meta_kubernetes_pod_labelpresent_"+sanitize.Replace(k)] = "true"
	}
	var out []labels.Labels
	for _, port := range p.ports {
		l := maps.Clone(common)
		l["__meta_kubernetes_pod_container_port_name"] = port
		l["__address__"] += ":15000"
		out = append(out, labels.FromMap(l))
	}
	return out
}

var monitorPods = []monitorPod{
	{"loom-mesh", "cp-stable", map[string]string{"app.kubernetes.io/name": "loom-control-plane", "istio.io/rev": "stable"}, []string{"http-monitoring", "grpc-xds"}},
	{"loom-mesh", "cp-default", map[string]string{"app.kubernetes.io/name": "loom-control-plane"}, []string{"http-monitoring"}},
	{"loom-mesh", "not-cp", map[string]string{"app.kubernetes.io/name": "other"}, []string{"http-monitoring"}},
	{"loom-system", "operator-kustomize", map[string]string{"app.kubernetes.io/name": "loom", "app.kubernetes.io/component": "operator"}, []string{"metrics", "probes"}},
	{"loom-system", "operator-helm", map[string]string{"app.kubernetes.io/name": "loom-operator"}, []string{"metrics"}},
	{"loom-system", "loom-not-operator", map[string]string{"app.kubernetes.io/name": "loom", "app.kubernetes.io/component": "webhook"}, []string{"metrics"}},
	{"shop", "reviews-v2", map[string]string{"service.istio.io/canonical-name": "reviews", "service.istio.io/canonical-revision": "v2",
		"app": "reviews-app", "version": "two", "app.kubernetes.io/name": "reviews-k8s", "istio.io/rev": "stable"}, []string{"http", "http-envoy-prom"}},
	{"shop", "ratings-v1", map[string]string{"app.kubernetes.io/name": "ratings", "app.kubernetes.io/version": "v1", "app": "ratings-app"}, []string{"http-envoy-prom"}},
	{"shop", "details-v3", map[string]string{"app": "details", "version": "v3"}, []string{"http-envoy-prom", "http"}},
	{"shop", "plain", map[string]string{"app": "plain"}, []string{"http"}},
}

// TestMonitorsRelabelLikeTheAddon runs every test pod's targets through each add-on scrape
// job's relabel_configs and through the matching PodMonitor (the control plane's
// ServiceMonitor) as the Prometheus Operator turns it into a scrape config (selector and port
// kept first, its default labels, then the monitor's relabelings), with Prometheus's own
// relabel code, and compares which targets
// are kept and the labels the rules and dashboards read. The add-on's prometheus.io
// annotation targets have no PodMonitor counterpart: only Envoy's port is compared.
func TestMonitorsRelabelLikeTheAddon(t *testing.T) {
	mesh := sample(t, "demo")
	mesh.Spec.Namespace = "loom-mesh"
	objs := renderMonitors(t, &mesh.Spec)
	addonVals, err := Prometheus(&mesh.Spec)
	addon := renderChart(t, render.Prometheus, mesh.Spec.Namespace, addonVals, err)
	var config struct {
		ScrapeConfigs []struct {
			JobName        string            `json:"job_name"`
			RelabelConfigs []json.RawMessage `json:"relabel_configs"`
		} `json:"scrape_configs"`
	}
	promYML, _, _ := unstructured.NestedString(findNamed(t, addon, "ConfigMap", "prometheus").Object, "data", "prometheus.yml")
	if err := yaml.Unmarshal([]byte(promYML), &config); err != nil {
		t.Fatal(err)
	}
	contract := []string{"job", "namespace", "pod", "workload", "workload_version", "revision", "__metrics_path__"}
	compared := 0
	for _, job := range config.ScrapeConfigs {
		addonRelabel := relabelConfigs(t, job.RelabelConfigs)
		// The control plane is watched through its Service: the ServiceMonitor sees the
		// endpoints (with their pods' labels) of the Services its selector matches.
		serviceMonitor := job.JobName == "loom-control-plane"
		var monitorRelabel []*relabel.Config
		var metricsPath, kind string
		var namespaces []string
		if serviceMonitor {
			kind = "serviceMonitor"
			monitorRelabel, metricsPath, namespaces = serviceMonitorRelabel(t, findNamed(t, objs, "ServiceMonitor", job.JobName))
		} else {
			kind = "podMonitor"
			monitorRelabel, metricsPath, namespaces = podMonitorRelabel(t, findNamed(t, objs, "PodMonitor", job.JobName))
		}
		for _, p := range monitorPods {
			for _, target := range p.targets() {
				port := target.Get("__meta_kubernetes_pod_container_port_name")
				monitorTarget, discovered := target, true
				if serviceMonitor {
					monitorTarget, discovered = controlPlaneEndpoint(target, mesh.Spec.Namespace)
				}
				if job.JobName == "loom-proxies" && port != "http-envoy-prom" {
					continue
				}
				// The add-on's control-plane job discovers the mesh namespace only, as the
				// PodMonitor's namespaceSelector does.
				inAddonScope := job.JobName != "loom-control-plane" || p.namespace == mesh.Spec.Namespace
				inMonitorScope := discovered && (namespaces == nil || slices.Contains(namespaces, p.namespace))
				// Prometheus labels every target with its job's name before relabelling.
				want, wantKept := apply(target, addonRelabel, job.JobName, "/metrics", inAddonScope)
				got, gotKept := apply(monitorTarget, monitorRelabel, kind+"/"+mesh.Spec.Namespace+"/"+job.JobName+"/0", metricsPath, inMonitorScope)
				if wantKept != gotKept {
					t.Errorf("%s: pod %s/%s port %s kept by the add-on: %v, by the %s: %v", job.JobName, p.namespace, p.name, port, wantKept, kind, gotKept)
					continue
				}
				if !wantKept {
					continue
				}
				compared++
				for _, name := range contract {
					if w, g := want.Get(name), got.Get(name); w != g {
						t.Errorf("%s: pod %s/%s port %s: label %s is %q from the add-on, %q from the %s", job.JobName, p.namespace, p.name, port, name, w, g, kind)
					}
				}
			}
		}
	}
	if compared != 7 {
		t.Errorf("compared %d kept targets, want 7 (2 control planes, 2 operators, 3 proxies)", compared)
	}
}

func apply(target labels.Labels, cfgs []*relabel.Config, jobName, metricsPath string, inScope bool) (labels.Labels, bool) {
	if !inScope {
		return labels.EmptyLabels(), false
	}
	b := labels.NewBuilder(target)
	b.Set("job", jobName)
	b.Set("__metrics_path__", metricsPath)
	if !relabel.ProcessBuilder(b, cfgs...) {
		return labels.EmptyLabels(), false
	}
	return b.Labels(), true
}

// relabelConfigs decodes relabel configs with Prometheus's defaults for what they leave out.
func relabelConfigs(t *testing.T, raw []json.RawMessage) []*relabel.Config {
	t.Helper()
	out := make([]*relabel.Config, 0, len(raw))
	for _, r := range raw {
		c := relabel.DefaultRelabelConfig
		if err := json.Unmarshal(r, &c); err != nil {
			t.Fatalf("relabel config %s: %v", r, err)
		}
		if err := c.Validate(model.UTF8Validation); err != nil {
			t.Fatalf("relabel config %s: %v", r, err)
		}
		out = append(out, &c)
	}
	return out
}

// podMonitorRelabel models the scrape config the Prometheus Operator generates from a
// PodMonitor with one endpoint: it keeps the pods the selector matches and the named port,
// labels namespace, pod and job (namespace/name) itself, then applies the endpoint's
// relabelings. It returns the relabel configs, the metrics path, and the namespaces
// discovered (nil for all).
func podMonitorRelabel(t *testing.T, pm *unstructured.Unstructured) ([]*relabel.Config, string, []string) {
	t.Helper()
	sanitize := strings.NewReplacer(".", "_", "/", "_", "-", "_")
	var raw []json.RawMessage
	add := func(v map[string]any) {
		data, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		raw = append(raw, data)
	}
	matchLabels, _, _ := unstructured.NestedStringMap(pm.Object, "spec", "selector", "matchLabels")
	for _, k := range slices.Sorted(maps.Keys(matchLabels)) {
		add(map[string]any{"action": "keep", "source_labels": []string{"__meta_kubernetes_pod_label_" + sanitize.Replace(k), "__meta_kubernetes_pod_labelpresent_" + sanitize.Replace(k)},
			"regex": "(" + matchLabels[k] + ");true"})
	}
	exprs, _, _ := unstructured.NestedSlice(pm.Object, "spec", "selector", "matchExpressions")
	for _, e := range exprs {
		expr := e.(map[string]any)
		if expr["operator"] != "In" {
			t.Fatalf("%s: the model knows the operator In only, not %v", pm.GetName(), expr["operator"])
		}
		var vals []string
		for _, v := range expr["values"].([]any) {
			vals = append(vals, v.(string))
		}
		k := expr["key"].(string)
		add(map[string]any{"action": "keep", "source_labels": []string{"__meta_kubernetes_pod_label_" + sanitize.Replace(k), "__meta_kubernetes_pod_labelpresent_" + sanitize.Replace(k)},
			"regex": "(" + strings.Join(vals, "|") + ");true"})
	}
	endpoints, _, _ := unstructured.NestedSlice(pm.Object, "spec", "podMetricsEndpoints")
	if len(endpoints) != 1 {
		t.Fatalf("%s: %d endpoints, want 1", pm.GetName(), len(endpoints))
	}
	ep := endpoints[0].(map[string]any)
	add(map[string]any{"action": "keep", "source_labels": []string{"__meta_kubernetes_pod_container_port_name"}, "regex": ep["port"]})
	add(map[string]any{"source_labels": []string{"__meta_kubernetes_namespace"}, "target_label": "namespace"})
	add(map[string]any{"source_labels": []string{"__meta_kubernetes_pod_name"}, "target_label": "pod"})
	add(map[string]any{"target_label": "job", "replacement": pm.GetNamespace() + "/" + pm.GetName()})
	for _, r := range endpointRelabelings(ep) {
		add(r)
	}
	path := endpointPath(ep)
	var namespaces []string
	if names, found, _ := unstructured.NestedStringSlice(pm.Object, "spec", "namespaceSelector", "matchNames"); found {
		namespaces = names
	} else if all, _, _ := unstructured.NestedBool(pm.Object, "spec", "namespaceSelector", "any"); !all {
		namespaces = []string{pm.GetNamespace()}
	}
	return relabelConfigs(t, raw), path, namespaces
}

// controlPlaneEndpoint is the target endpoints discovery (role endpoints) gives for a pod's
// port when the control-plane chart's Service (labels app.kubernetes.io/name=loom-control-plane,
// ports named as the pod's) selects the pod: the pod's meta labels, the Service's, and the
// endpoint's port name. false when the Service does not select the pod or lacks the port.
func controlPlaneEndpoint(pod labels.Labels, meshNamespace string) (labels.Labels, bool) {
	port := pod.Get("__meta_kubernetes_pod_container_port_name")
	if pod.Get("__meta_kubernetes_namespace") != meshNamespace || pod.Get("__meta_kubernetes_pod_label_app_kubernetes_io_name") != "loom-control-plane" ||
		!slices.Contains([]string{"grpc-xds", "grpc-secure", "http-monitoring", "https-webhook"}, port) {
		return labels.EmptyLabels(), false
	}
	b := labels.NewBuilder(pod)
	b.Set("__meta_kubernetes_service_name", "loom-control-plane")
	b.Set("__meta_kubernetes_service_label_app_kubernetes_io_name", "loom-control-plane")
	b.Set("__meta_kubernetes_service_labelpresent_app_kubernetes_io_name", "true")
	b.Set("__meta_kubernetes_endpoint_port_name", port)
	b.Set("__meta_kubernetes_endpoint_ready", "true")
	return b.Labels(), true
}

// serviceMonitorRelabel models the scrape config the Prometheus Operator generates from a
// ServiceMonitor with one endpoint (role endpoints): it keeps the Services the selector
// matches and the named port, labels namespace, service, pod and job (the Service's name)
// itself, then applies the endpoint's relabelings. It returns the relabel configs, the
// metrics path, and the namespaces discovered.
func serviceMonitorRelabel(t *testing.T, sm *unstructured.Unstructured) ([]*relabel.Config, string, []string) {
	t.Helper()
	sanitize := strings.NewReplacer(".", "_", "/", "_", "-", "_")
	var raw []json.RawMessage
	add := func(v map[string]any) {
		data, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		raw = append(raw, data)
	}
	matchLabels, _, _ := unstructured.NestedStringMap(sm.Object, "spec", "selector", "matchLabels")
	if len(matchLabels) == 0 {
		t.Fatalf("%s: the model knows matchLabels selectors only", sm.GetName())
	}
	for _, k := range slices.Sorted(maps.Keys(matchLabels)) {
		add(map[string]any{"action": "keep", "source_labels": []string{"__meta_kubernetes_service_label_" + sanitize.Replace(k), "__meta_kubernetes_service_labelpresent_" + sanitize.Replace(k)},
			"regex": "(" + matchLabels[k] + ");true"})
	}
	endpoints, _, _ := unstructured.NestedSlice(sm.Object, "spec", "endpoints")
	if len(endpoints) != 1 {
		t.Fatalf("%s: %d endpoints, want 1", sm.GetName(), len(endpoints))
	}
	ep := endpoints[0].(map[string]any)
	add(map[string]any{"action": "keep", "source_labels": []string{"__meta_kubernetes_endpoint_port_name"}, "regex": ep["port"]})
	add(map[string]any{"source_labels": []string{"__meta_kubernetes_namespace"}, "target_label": "namespace"})
	add(map[string]any{"source_labels": []string{"__meta_kubernetes_service_name"}, "target_label": "service"})
	add(map[string]any{"source_labels": []string{"__meta_kubernetes_pod_name"}, "target_label": "pod"})
	add(map[string]any{"source_labels": []string{"__meta_kubernetes_service_name"}, "target_label": "job"})
	for _, r := range endpointRelabelings(ep) {
		add(r)
	}
	path := endpointPath(ep)
	names, found, _ := unstructured.NestedStringSlice(sm.Object, "spec", "namespaceSelector", "matchNames")
	if !found {
		names = []string{sm.GetNamespace()}
	}
	return relabelConfigs(t, raw), path, names
}

// endpointRelabelings are a monitor endpoint's relabelings in Prometheus's own key names.
func endpointRelabelings(ep map[string]any) []map[string]any {
	relabelings, _ := ep["relabelings"].([]any)
	out := make([]map[string]any, 0, len(relabelings))
	for _, r := range relabelings {
		snake := map[string]any{}
		for k, v := range r.(map[string]any) {
			switch k {
			case "sourceLabels":
				k = "source_labels"
			case "targetLabel":
				k = "target_label"
			}
			snake[k] = v
		}
		out = append(out, snake)
	}
	return out
}

// endpointPath is a monitor endpoint's metrics path (/metrics unless it sets one).
func endpointPath(ep map[string]any) string {
	if path, _ := ep["path"].(string); path != "" {
		return path
	}
	return "/metrics"
}
