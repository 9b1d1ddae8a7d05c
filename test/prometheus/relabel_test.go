package prometheus

import (
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"loom.dev/loom/test/promrun"
)

// pod is what the test's pods carry that Kubernetes pod discovery turns into meta labels.
type pod struct {
	namespace, name string
	labels          map[string]string
	annotations     map[string]string
	ports           map[string]int // container port name -> number
}

var invalidLabelChars = regexp.MustCompile(`[^a-zA-Z0-9_]`)

// targets are the targets Prometheus's Kubernetes pod discovery (role: pod) makes of a
// running pod: one per container port, with the pod's meta labels (see Prometheus's
// kubernetes_sd_config documentation). Every address is loopback: nothing here is scraped
// elsewhere.
func (p pod) targets() []map[string]any {
	common := map[string]string{
		"__meta_kubernetes_namespace":          p.namespace,
		"__meta_kubernetes_pod_name":           p.name,
		"__meta_kubernetes_pod_ip":             "127.0.0.1",
		"__meta_kubernetes_pod_phase":          "Running",
		"__meta_kubernetes_pod_ready":          "true",
		"__meta_kubernetes_pod_uid":            p.namespace + "-" + p.name,
		"__meta_kubernetes_pod_container_name": "main",
	}
	for k, v := range p.labels {
		common["__meta_kubernetes_pod_label_"+invalidLabelChars.ReplaceAllString(k, "_")] = v
		common["__meta_kubernetes_pod_labelpresent_"+invalidLabelChars.ReplaceAllString(k, "_")] = "true"
	}
	for k, v := range p.annotations {
		common["__meta_kubernetes_pod_annotation_"+invalidLabelChars.ReplaceAllString(k, "_")] = v
		common["__meta_kubernetes_pod_annotationpresent_"+invalidLabelChars.ReplaceAllString(k, "_")] = "true"
	}
	var out []map[string]any
	for name, number := range p.ports {
		labels := maps.Clone(common)
		labels["__meta_kubernetes_pod_container_port_name"] = name
		labels["__meta_kubernetes_pod_container_port_number"] = strconv.Itoa(number)
		labels["__meta_kubernetes_pod_container_port_protocol"] = "TCP"
		out = append(out, map[string]any{"targets": []string{"127.0.0.1:" + strconv.Itoa(number)}, "labels": labels})
	}
	return out
}

const meshNamespace = "loom-mesh" // the add-on's release namespace

var pods = []pod{
	{namespace: meshNamespace, name: "cp-stable", ports: map[string]int{"http-monitoring": 15014, "grpc-xds": 15010},
		labels: map[string]string{"app.kubernetes.io/name": "loom-control-plane", "istio.io/rev": "stable"}},
	// A control-plane pod's other ports, and pods that only look like a control plane, are not scraped.
	{namespace: meshNamespace, name: "not-cp", ports: map[string]int{"http-monitoring": 15015},
		labels: map[string]string{"app.kubernetes.io/name": "something-else"}},
	{namespace: "loom-system", name: "operator-kustomize", ports: map[string]int{"metrics": 8080, "probes": 8081},
		labels: map[string]string{"app.kubernetes.io/name": "loom", "app.kubernetes.io/component": "operator"}}, // config/manager
	{namespace: "loom-system", name: "operator-helm", ports: map[string]int{"metrics": 8082},
		labels: map[string]string{"app.kubernetes.io/name": "loom-operator"}},
	// A sidecar: Envoy's stats port; the canonical labels win over app and version.
	{namespace: "shop", name: "reviews-v2-abc", ports: map[string]int{"http": 9080, "http-envoy-prom": 15090},
		labels: map[string]string{"service.istio.io/canonical-name": "reviews", "service.istio.io/canonical-revision": "v2",
			"app": "reviews-app", "version": "two", "app.kubernetes.io/name": "reviews-k8s", "istio.io/rev": "stable"}},
	// Annotations: every port's target moves to prometheus.io/port and path, and is scraped once.
	{namespace: "shop", name: "ratings-v1-def", ports: map[string]int{"http": 9081, "grpc": 9091},
		annotations: map[string]string{"prometheus.io/scrape": "true", "prometheus.io/port": "9102", "prometheus.io/path": "/custom"},
		labels:      map[string]string{"app.kubernetes.io/name": "ratings", "app.kubernetes.io/version": "v1", "app": "ratings-app"}},
	// Annotations without port or path: the container port and /metrics; app and version labels.
	{namespace: "shop", name: "details-v3-ghi", ports: map[string]int{"http": 9083},
		annotations: map[string]string{"prometheus.io/scrape": "true"},
		labels:      map[string]string{"app": "details", "version": "v3"}},
	// Envoy's port and annotations (as Istio's injector sets them): both are scraped.
	{namespace: "shop", name: "both-jkl", ports: map[string]int{"http": 9084, "http-envoy-prom": 15091},
		annotations: map[string]string{"prometheus.io/scrape": "true", "prometheus.io/port": "15020", "prometheus.io/path": "/stats/prometheus"},
		labels:      map[string]string{"app": "both"}},
	// Neither: not scraped.
	{namespace: "shop", name: "plain-mno", ports: map[string]int{"http": 9085}, labels: map[string]string{"app": "plain"},
		annotations: map[string]string{"prometheus.io/scrape": "false", "prometheus.io/port": "9085"}},
}

// wantTargets are the active targets after the chart's relabelling: pool, scrape URL and labels.
var wantTargets = []string{
	`loom-control-plane http://127.0.0.1:15014/metrics {instance="127.0.0.1:15014", job="loom-control-plane", namespace="loom-mesh", pod="cp-stable", revision="stable"}`,
	`loom-operator http://127.0.0.1:8080/metrics {instance="127.0.0.1:8080", job="loom-operator", namespace="loom-system", pod="operator-kustomize"}`,
	`loom-operator http://127.0.0.1:8082/metrics {instance="127.0.0.1:8082", job="loom-operator", namespace="loom-system", pod="operator-helm"}`,
	`loom-proxies http://127.0.0.1:15090/stats/prometheus {instance="127.0.0.1:15090", job="loom-proxies", namespace="shop", pod="reviews-v2-abc", revision="stable", workload="reviews", workload_version="v2"}`,
	`loom-proxies http://127.0.0.1:9102/custom {instance="127.0.0.1:9102", job="loom-proxies", namespace="shop", pod="ratings-v1-def", workload="ratings", workload_version="v1"}`,
	`loom-proxies http://127.0.0.1:9083/metrics {instance="127.0.0.1:9083", job="loom-proxies", namespace="shop", pod="details-v3-ghi", workload="details", workload_version="v3"}`,
	`loom-proxies http://127.0.0.1:15091/stats/prometheus {instance="127.0.0.1:15091", job="loom-proxies", namespace="shop", pod="both-jkl", workload="both"}`,
	`loom-proxies http://127.0.0.1:15020/stats/prometheus {instance="127.0.0.1:15020", job="loom-proxies", namespace="shop", pod="both-jkl", workload="both"}`,
}

func describe(t promrun.Target) string {
	keys := slices.Sorted(maps.Keys(t.Labels))
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s=%q", k, t.Labels[k])
	}
	return fmt.Sprintf("%s %s {%s}", t.ScrapePool, t.ScrapeURL, strings.Join(parts, ", "))
}

// TestRelabellingGivesTheContractLabels runs a real Prometheus on the chart's prometheus.yml
// (discovery swapped for files of the targets pod discovery would give: see debianConfig)
// and compares the active targets with the labels the dashboards rely on. It also loads the
// chart's rules.
func TestRelabellingGivesTheContractLabels(t *testing.T) {
	objs := renderAddon(t)
	config := configMapKey(t, find(t, objs, "ConfigMap", "prometheus"), "prometheus.yml")
	rulesDir, err := filepath.Abs(filepath.Dir(rulesFile))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	sdFile := func(job string) string {
		var groups []map[string]any
		for _, p := range pods {
			// The control-plane job discovers only the release namespace (namespaces: names).
			if job == "loom-control-plane" && p.namespace != meshNamespace {
				continue
			}
			groups = append(groups, p.targets()...)
		}
		data, err := json.Marshal(groups)
		if err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(dir, job+".json")
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
		return path
	}
	cfg := debianConfig(t, config, sdFile, rulesDir)
	// Scrape rarely: the test looks at targets, not samples.
	cfg = strings.Replace(cfg, "scrape_interval: 15s", "scrape_interval: 1h", 1)
	prom := promrun.Start(t, cfg)

	want := slices.Clone(wantTargets)
	slices.Sort(want)
	var got []string
	promrun.Eventually(t, time.Minute, "the chart's targets", func() (bool, string) {
		targets, err := prom.ActiveTargets()
		if err != nil {
			return false, err.Error()
		}
		got = got[:0]
		for _, tg := range targets {
			got = append(got, describe(tg))
		}
		slices.Sort(got)
		return slices.Equal(got, want), fmt.Sprintf("got\n  %s\nwant\n  %s\nprometheus log:\n%s",
			strings.Join(got, "\n  "), strings.Join(want, "\n  "), prom.Log())
	})

	promrun.Eventually(t, time.Minute, "the chart's rule groups", func() (bool, string) {
		groups, err := prom.RuleGroups()
		if err != nil {
			return false, err.Error()
		}
		var names []string
		rules := 0
		for _, g := range groups {
			names = append(names, g.Name)
			rules += len(g.Rules)
		}
		slices.Sort(names)
		return slices.Equal(names, []string{"loom-control-plane", "loom-operator", "loom-requests"}) && rules == 17,
			fmt.Sprintf("groups %v with %d rules", names, rules)
	})
}
