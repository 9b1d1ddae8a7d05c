package prometheus

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"

	"loom.dev/loom/pkg/render"
)

// rulesFile is the add-on's rules, as the chart ships them.
const rulesFile = "../../pkg/render/charts/prometheus/files/rules.yaml"

// rulesMount is where the chart's Deployment mounts the rules ConfigMap.
const rulesMount = "/etc/prometheus-rules"

// promtool finds Prometheus's promtool; its absence fails the test rather than skipping it.
func promtool(t *testing.T) string {
	t.Helper()
	path, err := exec.LookPath("promtool")
	if err != nil {
		t.Fatalf("promtool not found (%v): run `make prometheus-tools` (Debian's prometheus package)", err)
	}
	return path
}

func runPromtool(t *testing.T, args ...string) string {
	t.Helper()
	out, err := exec.Command(promtool(t), args...).CombinedOutput()
	if err != nil {
		t.Fatalf("promtool %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// renderAddon renders the add-on chart with its default values.
func renderAddon(t *testing.T) []*unstructured.Unstructured {
	t.Helper()
	r, err := render.New()
	if err != nil {
		t.Fatal(err)
	}
	objs, err := r.Render(render.Prometheus, render.Release{Name: "mesh", Namespace: "loom-mesh"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	return objs
}

func find(t *testing.T, objs []*unstructured.Unstructured, kind, name string) *unstructured.Unstructured {
	t.Helper()
	for _, o := range objs {
		if o.GetKind() == kind && o.GetName() == name {
			return o
		}
	}
	t.Fatalf("the add-on renders no %s %s", kind, name)
	return nil
}

func configMapKey(t *testing.T, cm *unstructured.Unstructured, key string) string {
	t.Helper()
	v, ok, err := unstructured.NestedString(cm.Object, "data", key)
	if err != nil || !ok {
		t.Fatalf("ConfigMap %s has no data.%s (%v)", cm.GetName(), key, err)
	}
	return v
}

// TestRenderedConfigPassesPromtool checks the chart's prometheus.yml with promtool check
// config, which also loads and checks the rule files it names (here: the rules ConfigMap's
// content, in a temp dir that replaces the mount path). Debian's promtool knows no
// kubernetes_sd_configs: see debianConfig.
func TestRenderedConfigPassesPromtool(t *testing.T) {
	objs := renderAddon(t)
	config := configMapKey(t, find(t, objs, "ConfigMap", "prometheus"), "prometheus.yml")
	rulesCM := find(t, objs, "ConfigMap", "prometheus-rules")

	dir := t.TempDir()
	for key, content := range rulesCM.Object["data"].(map[string]any) {
		if err := os.WriteFile(filepath.Join(dir, key), []byte(content.(string)), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "targets.json"), []byte("[]"), 0o644); err != nil {
		t.Fatal(err)
	}
	sdFile := func(string) string { return filepath.Join(dir, "targets.json") }
	configPath := filepath.Join(dir, "prometheus.yml")
	if err := os.WriteFile(configPath, []byte(debianConfig(t, config, sdFile, dir)), 0o644); err != nil {
		t.Fatal(err)
	}
	out := runPromtool(t, "check", "config", configPath)
	if !strings.Contains(out, "SUCCESS: 17 rules found") {
		t.Errorf("promtool did not load the 17 rules through rule_files:\n%s", out)
	}
}

// TestChartMountsTheRulesFile: the rules ConfigMap carries files/rules.yaml unchanged and the
// Deployment mounts it where rule_files looks.
func TestChartMountsTheRulesFile(t *testing.T) {
	want, err := os.ReadFile(rulesFile)
	if err != nil {
		t.Fatal(err)
	}
	objs := renderAddon(t)
	if got := configMapKey(t, find(t, objs, "ConfigMap", "prometheus-rules"), "loom.rules.yaml"); got != string(want) {
		t.Errorf("the rules ConfigMap differs from %s", rulesFile)
	}
	deploy := find(t, objs, "Deployment", "prometheus")
	containers, _, _ := unstructured.NestedSlice(deploy.Object, "spec", "template", "spec", "containers")
	mounts, _, _ := unstructured.NestedSlice(containers[0].(map[string]any), "volumeMounts")
	volumes, _, _ := unstructured.NestedSlice(deploy.Object, "spec", "template", "spec", "volumes")
	var mounted bool
	for _, m := range mounts {
		m := m.(map[string]any)
		if m["mountPath"] != rulesMount {
			continue
		}
		for _, v := range volumes {
			v := v.(map[string]any)
			if v["name"] == m["name"] && v["configMap"].(map[string]any)["name"] == "prometheus-rules" {
				mounted = true
			}
		}
	}
	if !mounted {
		t.Errorf("the Deployment does not mount ConfigMap prometheus-rules at %s", rulesMount)
	}
}

func TestRulesPassPromtool(t *testing.T) {
	runPromtool(t, "check", "rules", rulesFile)
}

// TestRuleUnitTests runs testdata/rules_test.yaml: input series, the recording rules' values
// and the alerts that must (and must not) fire.
func TestRuleUnitTests(t *testing.T) {
	runPromtool(t, "test", "rules", "testdata/rules_test.yaml")
}

// TestRecordingRuleNames: the recording rules are those the Grafana dashboards are written
// against (the issue-15 contract between the add-ons), no more and no fewer.
func TestRecordingRuleNames(t *testing.T) {
	data, err := os.ReadFile(rulesFile)
	if err != nil {
		t.Fatal(err)
	}
	var file struct {
		Groups []struct {
			Name  string `json:"name"`
			Rules []struct {
				Record string `json:"record"`
				Alert  string `json:"alert"`
			} `json:"rules"`
		} `json:"groups"`
	}
	if err := yaml.Unmarshal(data, &file); err != nil {
		t.Fatal(err)
	}
	var records, alerts []string
	for _, g := range file.Groups {
		for _, r := range g.Rules {
			if r.Record != "" {
				records = append(records, r.Record)
			} else {
				alerts = append(alerts, r.Alert)
			}
		}
	}
	wantRecords := []string{
		"loom:inbound_errors:rate1m", "loom:inbound_latency_seconds:p99", "loom:inbound_requests:rate1m",
		"loom:outbound_errors:rate1m", "loom:outbound_latency_seconds:p50", "loom:outbound_latency_seconds:p90",
		"loom:outbound_latency_seconds:p99", "loom:outbound_requests:rate1m",
		"loom:xds_push_duration_seconds:p99", "loom:xds_pushes:rate5m",
	}
	wantAlerts := []string{
		"LoomCACertificateExpiringSoon", "LoomCACertificateExpiryCritical", "LoomComponentNotReady",
		"LoomProxiesNotConverged", "LoomRollbackHappened", "LoomXDSNacksRising", "LoomXDSPushTimeHigh",
	}
	slices.Sort(records)
	slices.Sort(alerts)
	if !slices.Equal(records, wantRecords) {
		t.Errorf("recording rules %v, want %v", records, wantRecords)
	}
	if !slices.Equal(alerts, wantAlerts) {
		t.Errorf("alerts %v, want %v", alerts, wantAlerts)
	}
}
