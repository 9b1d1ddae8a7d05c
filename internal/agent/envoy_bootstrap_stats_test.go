package agent

import (
	"regexp"
	"sort"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"
)

// Envoy's default regexes (source/common/config/well_known_names.cc) of
// the tags the test sees next to envoy.cluster_name in a cluster stat.
var envoyResponseCodeTags = map[string]string{
	"envoy.response_code":       `_rq(_(\d{3}))$`,
	"envoy.response_code_class": `_rq_((\d))xx$`,
}

// envoyTags applies tag regexes to a stat name as Envoy's TagProducerImpl
// does: every regex is matched against the original name, the first
// capture group is removed from it, and the tag value is the second group
// (the first when there is only one).
func envoyTags(t *testing.T, name string, regexes map[string]string) (string, map[string]string) {
	t.Helper()
	tags := map[string]string{}
	type span struct{ from, to int }
	var removed []span
	for tag, expr := range regexes {
		re, err := regexp.Compile(expr)
		if err != nil {
			t.Fatalf("tag %s: regex %q is not RE2: %v", tag, expr, err)
		}
		m := re.FindStringSubmatchIndex(name)
		if m == nil || m[2] < 0 {
			continue
		}
		value := name[m[2]:m[3]]
		if len(m) > 4 && m[4] >= 0 {
			value = name[m[4]:m[5]]
		}
		tags[tag] = value
		removed = append(removed, span{m[2], m[3]})
	}
	sort.Slice(removed, func(i, j int) bool { return removed[i].from < removed[j].from })
	var rest strings.Builder
	at := 0
	for _, s := range removed {
		if s.from > at {
			rest.WriteString(name[at:s.from])
		}
		at = max(at, s.to)
	}
	rest.WriteString(name[at:])
	return rest.String(), tags
}

// prometheusName is Envoy's /stats/prometheus name of a tag-stripped stat.
func prometheusName(stat string) string {
	return "envoy_" + regexp.MustCompile(`[^a-zA-Z0-9_]`).ReplaceAllString(stat, "_")
}

func TestClusterNameTagKeepsTheWholeLoomClusterName(t *testing.T) {
	regexes := map[string]string{clusterNameTag: ClusterNameTagRegex}
	for tag, expr := range envoyResponseCodeTags {
		regexes[tag] = expr
	}
	for _, tc := range []struct {
		stat, cluster, rest, prometheus string
		codeClass                       string
	}{
		// Sidecar, outbound to a subset.
		{"cluster.outbound|9080|v1|reviews.default.svc.cluster.local.upstream_rq_total",
			"outbound|9080|v1|reviews.default.svc.cluster.local", "cluster.upstream_rq_total", "envoy_cluster_upstream_rq_total", ""},
		{"cluster.outbound|9080|v1|reviews.default.svc.cluster.local.upstream_rq_5xx",
			"outbound|9080|v1|reviews.default.svc.cluster.local", "cluster.upstream_rq_xx", "envoy_cluster_upstream_rq_xx", "5"},
		{"cluster.outbound|9080||reviews.default.svc.cluster.local.upstream_rq_time",
			"outbound|9080||reviews.default.svc.cluster.local", "cluster.upstream_rq_time", "envoy_cluster_upstream_rq_time", ""},
		{"cluster.outbound|9080||reviews.default.svc.cluster.local.circuit_breakers.default.cx_open",
			"outbound|9080||reviews.default.svc.cluster.local", "cluster.circuit_breakers.default.cx_open", "", ""},
		// Sidecar, inbound.
		{"cluster.inbound|9080||.upstream_rq_total", "inbound|9080||", "cluster.upstream_rq_total", "envoy_cluster_upstream_rq_total", ""},
		{"cluster.inbound|9080||.upstream_rq_2xx", "inbound|9080||", "cluster.upstream_rq_xx", "envoy_cluster_upstream_rq_xx", "2"},
		{"cluster.inbound|http|8080.upstream_cx_active", "inbound|http|8080", "cluster.upstream_cx_active", "envoy_cluster_upstream_cx_active", ""},
		// Gateway, routing to a service in another namespace.
		{"cluster.outbound|8000||httpbin.apps.svc.cluster.local.upstream_rq_total",
			"outbound|8000||httpbin.apps.svc.cluster.local", "cluster.upstream_rq_total", "envoy_cluster_upstream_rq_total", ""},
		{"cluster.outbound|443|canary|web.shop.svc.cluster.local.upstream_cx_active",
			"outbound|443|canary|web.shop.svc.cluster.local", "cluster.upstream_cx_active", "envoy_cluster_upstream_cx_active", ""},
		// Bootstrap and well-known clusters.
		{"cluster.xds-grpc.upstream_cx_active", "xds-grpc", "cluster.upstream_cx_active", "", ""},
		{"cluster.BlackHoleCluster.upstream_cx_total", "BlackHoleCluster", "cluster.upstream_cx_total", "", ""},
	} {
		rest, tags := envoyTags(t, tc.stat, regexes)
		if tags[clusterNameTag] != tc.cluster || rest != tc.rest {
			t.Errorf("%s: tag %q, name %q; want tag %q, name %q", tc.stat, tags[clusterNameTag], rest, tc.cluster, tc.rest)
		}
		if got := tags["envoy.response_code_class"]; got != tc.codeClass {
			t.Errorf("%s: response code class %q, want %q", tc.stat, got, tc.codeClass)
		}
		if tc.prometheus != "" && prometheusName(rest) != tc.prometheus {
			t.Errorf("%s: Prometheus name %q, want %q", tc.stat, prometheusName(rest), tc.prometheus)
		}
	}
}

// TestEnvoyDefaultClusterTagCutsTheName shows why StatsConfig replaces
// Envoy's default envoy.cluster_name: it stops at the first dot.
func TestEnvoyDefaultClusterTagCutsTheName(t *testing.T) {
	_, tags := envoyTags(t, "cluster.outbound|9080|v1|reviews.default.svc.cluster.local.upstream_rq_total",
		map[string]string{clusterNameTag: `^cluster\.(([^\.]+)\.).*`})
	if tags[clusterNameTag] != "outbound|9080|v1|reviews" {
		t.Errorf("Envoy's default gives %q", tags[clusterNameTag])
	}
}

func TestEnvoyBootstrapCarriesStatsConfig(t *testing.T) {
	o := envoyTestOptions()
	data, err := EnvoyBootstrap(&o)
	if err != nil {
		t.Fatal(err)
	}
	sc := parseEnvoyBootstrap(t, data).GetStatsConfig()
	if !proto.Equal(sc, StatsConfig()) {
		t.Fatalf("bootstrap stats_config %v, want StatsConfig()", sc)
	}
	if err := sc.ValidateAll(); err != nil {
		t.Fatal(err)
	}
	// Envoy refuses a tag named twice or a default name it does not know:
	// every name here must be unique and only envoy.cluster_name has a regex.
	seen := map[string]bool{}
	for _, tag := range sc.GetStatsTags() {
		if seen[tag.GetTagName()] {
			t.Errorf("tag %s named twice", tag.GetTagName())
		}
		seen[tag.GetTagName()] = true
		if (tag.GetRegex() != "") != (tag.GetTagName() == clusterNameTag) {
			t.Errorf("tag %s: regex %q", tag.GetTagName(), tag.GetRegex())
		}
	}
	if sc.GetUseAllDefaultTags().GetValue() {
		t.Error("use_all_default_tags would put Envoy's cut envoy.cluster_name before ours")
	}
	if !seen["envoy.response_code_class"] {
		t.Error("envoy.response_code_class (envoy_response_code_class) is missing")
	}
}
