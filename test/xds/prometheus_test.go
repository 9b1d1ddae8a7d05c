package xds

import (
	"fmt"
	"path/filepath"
	"slices"
	"testing"
	"time"

	discoveryv3 "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	resourcev3 "github.com/envoyproxy/go-control-plane/pkg/resource/v3"

	"loom.dev/loom/test/promrun"
)

// TestPrometheusScrapesDiscovery runs a real Prometheus (Debian's) that scrapes `loom
// discovery` as the add-on's loom-control-plane job would, with the add-on's rules: the
// control plane's push and proxy metrics come back from queries, the recording rules
// produce series from them, and every rule group loads and evaluates without error.
func TestPrometheusScrapesDiscovery(t *testing.T) {
	// A connected proxy, so that the connected-proxies gauge has a series.
	ns := newNamespace(t)
	c := newDeltaClient(t, ns)
	c.send(&discoveryv3.DeltaDiscoveryRequest{TypeUrl: resourcev3.ClusterType})
	c.recv(resourcev3.ClusterType)

	rules, err := filepath.Abs("../../pkg/render/charts/prometheus/files/rules.yaml")
	if err != nil {
		t.Fatal(err)
	}
	// The labels the add-on's relabelling gives a control-plane pod.
	prom := promrun.Start(t, fmt.Sprintf(`global: {scrape_interval: 1s, evaluation_interval: 1s}
rule_files: [%q]
scrape_configs:
- job_name: loom-control-plane
  static_configs:
  - targets: [%q]
    labels: {namespace: istio-system, pod: loom-discovery-e2e, revision: default}
`, rules, plane.monitoringAddr))

	for _, q := range []string{
		`loom_xds_pushes_total{job="loom-control-plane", namespace="istio-system", pod="loom-discovery-e2e", revision="default"}`,
		`loom_xds_connected_proxies{job="loom-control-plane", stream="delta"} >= 1`,
		`loom:xds_pushes:rate5m{namespace="istio-system", revision="default"}`,
	} {
		promrun.Eventually(t, 2*time.Minute, "data for "+q, func() (bool, string) {
			samples, err := prom.Query(q)
			if err != nil {
				return false, err.Error()
			}
			return len(samples) > 0, fmt.Sprintf("no series; prometheus log:\n%s", prom.Log())
		})
	}

	promrun.Eventually(t, 2*time.Minute, "the add-on's rules to load and evaluate", func() (bool, string) {
		groups, err := prom.RuleGroups()
		if err != nil {
			return false, err.Error()
		}
		var names, unhealthy []string
		rules := 0
		for _, g := range groups {
			names = append(names, g.Name)
			for _, r := range g.Rules {
				rules++
				if r.Health != "ok" {
					unhealthy = append(unhealthy, fmt.Sprintf("%s: %s %s", r.Name, r.Health, r.LastError))
				}
			}
		}
		slices.Sort(names)
		ok := slices.Equal(names, []string{"loom-control-plane", "loom-operator", "loom-requests"}) && rules == 17 && len(unhealthy) == 0
		return ok, fmt.Sprintf("groups %v, %d rules, not ok: %v", names, rules, unhealthy)
	})
}
