// Package dashboards checks the Grafana add-on's dashboards: every query
// parses with Prometheus's own PromQL parser and names only metrics that
// Loom, controller-runtime, Envoy or the Prometheus add-on's recording rules
// really produce.
package dashboards

import (
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"testing"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	promql "github.com/prometheus/prometheus/promql/parser"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"loom.dev/loom/pkg/render"
)

// Dashboards whose panels use only the recording rules (never raw envoy_*),
// so their queries stay cheap and follow the contract's labels.
var recordingRuleOnly = map[string]bool{"loom-mesh": true, "loom-service": true, "loom-workload": true}

// dashboard is what the test reads of a Grafana dashboard.
type dashboard struct {
	UID        string  `json:"uid"`
	Title      string  `json:"title"`
	Panels     []panel `json:"panels"`
	Templating struct {
		List []struct {
			Name  string          `json:"name"`
			Type  string          `json:"type"`
			Query json.RawMessage `json:"query"`
		} `json:"list"`
	} `json:"templating"`
}

type panel struct {
	Title      string  `json:"title"`
	Panels     []panel `json:"panels"` // a collapsed row's
	Datasource *struct {
		UID string `json:"uid"`
	} `json:"datasource"`
	Targets []struct {
		RefID string `json:"refId"`
		Expr  string `json:"expr"`
	} `json:"targets"`
}

// query is one PromQL expression of a dashboard, and where it is.
type query struct {
	where, expr string
}

func (d *dashboard) queries() ([]query, error) {
	var out []query
	var walk func([]panel)
	walk = func(ps []panel) {
		for _, p := range ps {
			for _, target := range p.Targets {
				out = append(out, query{fmt.Sprintf("panel %q target %s", p.Title, target.RefID), target.Expr})
			}
			walk(p.Panels)
		}
	}
	walk(d.Panels)
	for _, v := range d.Templating.List {
		if v.Type != "query" {
			continue
		}
		expr, err := variableQuery(v.Query)
		if err != nil {
			return nil, fmt.Errorf("variable %s: %w", v.Name, err)
		}
		if expr != "" {
			out = append(out, query{"variable " + v.Name, expr})
		}
	}
	return out, nil
}

var (
	labelValuesQuery = regexp.MustCompile(`^\s*label_values\(\s*(.*?)\s*,\s*[a-zA-Z_][a-zA-Z0-9_]*\s*\)\s*$`)
	labelOnlyQuery   = regexp.MustCompile(`^\s*label_values\(\s*[a-zA-Z_][a-zA-Z0-9_]*\s*\)\s*$`)
	queryResultQuery = regexp.MustCompile(`^\s*query_result\(\s*(.*)\s*\)\s*$`)
)

// variableQuery is the PromQL inside a Grafana Prometheus variable query
// (a string, or an object with a query field): label_values(expr, label)
// and query_result(expr) give expr; label_values(label) gives none.
func variableQuery(raw json.RawMessage) (string, error) {
	var q string
	if err := json.Unmarshal(raw, &q); err != nil {
		var obj struct {
			Query string `json:"query"`
		}
		if err := json.Unmarshal(raw, &obj); err != nil {
			return "", fmt.Errorf("query is neither a string nor an object with a query: %s", raw)
		}
		q = obj.Query
	}
	if m := labelValuesQuery.FindStringSubmatch(q); m != nil {
		return m[1], nil
	}
	if labelOnlyQuery.MatchString(q) {
		return "", nil
	}
	if m := queryResultQuery.FindStringSubmatch(q); m != nil {
		return m[1], nil
	}
	return "", fmt.Errorf("query %q is not label_values(...) or query_result(...)", q)
}

var (
	grafanaDurationVariable = regexp.MustCompile(`\$(__rate_interval|__interval|__range)\b|\$\{(__rate_interval|__interval|__range)\}`)
	grafanaVariable         = regexp.MustCompile(`\$\{[a-zA-Z_][a-zA-Z0-9_]*(:[a-z]+)?\}|\$[a-zA-Z_][a-zA-Z0-9_]*|\[\[[a-zA-Z_][a-zA-Z0-9_]*\]\]`)
)

// substitute replaces Grafana's variables with values of their kind, as
// Grafana does before sending a query.
func substitute(expr string) string {
	expr = grafanaDurationVariable.ReplaceAllString(expr, "5m")
	return grafanaVariable.ReplaceAllString(expr, "value")
}

var promqlParser = promql.NewParser(promql.Options{})

// metricNames parses expr and returns the metric names its selectors name.
func metricNames(expr string) ([]string, error) {
	node, err := promqlParser.ParseExpr(substitute(expr))
	if err != nil {
		return nil, err
	}
	var names []string
	promql.Inspect(node, func(n promql.Node, _ []promql.Node) error {
		vs, ok := n.(*promql.VectorSelector)
		if !ok {
			return nil
		}
		name := vs.Name
		for _, m := range vs.LabelMatchers {
			if m.Name == model.MetricNameLabel && m.Type == labels.MatchEqual {
				name = m.Value
			}
		}
		names = append(names, name)
		return nil
	})
	return names, nil
}

// checkDashboard returns every problem of d: a query that does not parse,
// a metric no known source produces, or a raw metric in a dashboard that
// must use recording rules only.
func checkDashboard(d *dashboard, known *knownMetrics) error {
	var errs []error
	qs, err := d.queries()
	if err != nil {
		errs = append(errs, fmt.Errorf("%s: %w", d.UID, err))
	}
	if len(qs) == 0 {
		errs = append(errs, fmt.Errorf("%s: no query", d.UID))
	}
	for _, q := range qs {
		names, err := metricNames(q.expr)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s %s: %q does not parse: %w", d.UID, q.where, q.expr, err))
			continue
		}
		if len(names) == 0 {
			errs = append(errs, fmt.Errorf("%s %s: %q names no metric", d.UID, q.where, q.expr))
		}
		for _, name := range names {
			source := known.source(name)
			switch {
			case name == "":
				errs = append(errs, fmt.Errorf("%s %s: a selector without a metric name in %q", d.UID, q.where, q.expr))
			case source == "":
				errs = append(errs, fmt.Errorf("%s %s: %s is not a metric Loom, controller-runtime, Envoy or the recording rules produce", d.UID, q.where, name))
			case recordingRuleOnly[d.UID] && source != "recording rule":
				errs = append(errs, fmt.Errorf("%s %s: %s (%s) is not a recording rule; this dashboard uses only those", d.UID, q.where, name, source))
			}
		}
	}
	return errors.Join(errs...)
}

// renderedDashboards renders the Grafana add-on and returns its dashboards
// by ConfigMap name, and the other objects by kind.
func renderedDashboards(t *testing.T) (map[string]*dashboard, map[string][]*unstructured.Unstructured) {
	t.Helper()
	r, err := render.New()
	if err != nil {
		t.Fatal(err)
	}
	objs, err := r.Render(render.Grafana, render.Release{Name: "mesh", Namespace: "loom-system"}, map[string]any{"prometheusURL": "http://prometheus:9090"})
	if err != nil {
		t.Fatal(err)
	}
	dashboards := map[string]*dashboard{}
	byKind := map[string][]*unstructured.Unstructured{}
	for _, o := range objs {
		byKind[o.GetKind()] = append(byKind[o.GetKind()], o)
		if o.GetKind() != "ConfigMap" || o.GetLabels()["grafana_dashboard"] != "1" {
			continue
		}
		data, _, _ := unstructured.NestedStringMap(o.Object, "data")
		if len(data) != 1 {
			t.Fatalf("ConfigMap %s holds %d files, want one dashboard", o.GetName(), len(data))
		}
		for file, text := range data {
			d := &dashboard{}
			if err := json.Unmarshal([]byte(text), d); err != nil {
				t.Fatalf("ConfigMap %s %s: %v", o.GetName(), file, err)
			}
			dashboards[o.GetName()] = d
		}
	}
	return dashboards, byKind
}

func TestDashboardQueriesParseAndNameRealMetrics(t *testing.T) {
	known := loadKnownMetrics(t)
	dashboards, _ := renderedDashboards(t)
	uids := map[string]bool{}
	for name, d := range dashboards {
		uids[d.UID] = true
		if err := checkDashboard(d, known); err != nil {
			t.Errorf("ConfigMap %s:\n%v", name, err)
		}
	}
	for _, want := range []string{"loom-mesh", "loom-service", "loom-workload", "loom-control-plane", "loom-operator"} {
		if !uids[want] {
			t.Errorf("no dashboard %s among %v", want, uids)
		}
	}
}

// TestCheckDashboardRejects proves the check can fail: an unknown metric,
// a query that does not parse, a raw metric where only recording rules are
// allowed, and a variable query of an unknown form.
func TestCheckDashboardRejects(t *testing.T) {
	known := loadKnownMetrics(t)
	for _, tc := range []struct {
		uid, expr, variable, want string
	}{
		{"loom-control-plane", `sum(rate(loom_xds_pushez_total[$__rate_interval]))`, "", "loom_xds_pushez_total is not a metric"},
		{"loom-control-plane", `sum(rate(envoy_cluster_upstream_rq_totl[5m]))`, "", "envoy_cluster_upstream_rq_totl is not a metric"},
		{"loom-control-plane", `sum by (pod) (loom_xds_views{namespace=~"$namespace"}`, "", "does not parse"},
		{"loom-service", `sum(rate(envoy_cluster_upstream_rq_total[5m]))`, "", "uses only those"},
		{"loom-workload", `max(loom_xds_views)`, "", "uses only those"},
		{"loom-control-plane", `sum(loom_xds_views)`, `label_values(loom_xds_viewz, namespace)`, "loom_xds_viewz is not a metric"},
		{"loom-control-plane", `sum(loom_xds_views)`, `metrics(loom_.*)`, "is not label_values"},
		{"loom-control-plane", `sum({namespace="x"})`, "", "without a metric name"},
	} {
		d := &dashboard{UID: tc.uid, Panels: []panel{{Title: "p", Targets: []struct {
			RefID string `json:"refId"`
			Expr  string `json:"expr"`
		}{{RefID: "A", Expr: tc.expr}}}}}
		if tc.variable != "" {
			raw, _ := json.Marshal(map[string]string{"query": tc.variable})
			d.Templating.List = append(d.Templating.List, struct {
				Name  string          `json:"name"`
				Type  string          `json:"type"`
				Query json.RawMessage `json:"query"`
			}{"v", "query", raw})
		}
		err := checkDashboard(d, known)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s %q %q: got %v, want an error with %q", tc.uid, tc.expr, tc.variable, err, tc.want)
		}
	}
	// And a good one passes, variables of every form substituted.
	d := &dashboard{UID: "loom-service", Panels: []panel{{Title: "p", Targets: []struct {
		RefID string `json:"refId"`
		Expr  string `json:"expr"`
	}{{RefID: "A", Expr: `sum(loom:outbound_requests:rate1m{namespace=~"${namespace:regex}", workload=~"[[workload]]", destination_service=~"$service"})`}}}}}
	if err := checkDashboard(d, known); err != nil {
		t.Errorf("a valid dashboard is rejected: %v", err)
	}
}

// TestGrafanaProvisionsDatasourceAndDashboards: the datasource points at
// the Prometheus add-on's Service, every panel reads from it, and the
// Deployment mounts every dashboard ConfigMap where the provider reads.
func TestGrafanaProvisionsDatasourceAndDashboards(t *testing.T) {
	dashboards, byKind := renderedDashboards(t)
	var provisioning *unstructured.Unstructured
	for _, cm := range byKind["ConfigMap"] {
		if cm.GetName() == "grafana-provisioning" {
			provisioning = cm
		}
	}
	if provisioning == nil {
		t.Fatal("no grafana-provisioning ConfigMap")
	}
	data, _, _ := unstructured.NestedStringMap(provisioning.Object, "data")
	url := prometheusServiceURL(t)
	if !strings.Contains(data["datasources.yaml"], "url: "+url) || !strings.Contains(data["datasources.yaml"], "uid: prometheus") {
		t.Errorf("datasource does not point at the Prometheus add-on %s with uid prometheus:\n%s", url, data["datasources.yaml"])
	}
	if !strings.Contains(data["dashboards.yaml"], "path: /var/lib/grafana/dashboards/loom") {
		t.Errorf("dashboard provider:\n%s", data["dashboards.yaml"])
	}
	for name, d := range dashboards {
		var walk func([]panel)
		walk = func(ps []panel) {
			for _, p := range ps {
				if len(p.Targets) > 0 && (p.Datasource == nil || p.Datasource.UID != "prometheus") {
					t.Errorf("%s panel %q does not read the provisioned datasource", name, p.Title)
				}
				walk(p.Panels)
			}
		}
		walk(d.Panels)
	}
	deploy := byKind["Deployment"][0]
	volumes, _, _ := unstructured.NestedSlice(deploy.Object, "spec", "template", "spec", "volumes")
	mounted := map[string]bool{}
	for _, v := range volumes {
		sources, _, _ := unstructured.NestedSlice(v.(map[string]any), "projected", "sources")
		for _, s := range sources {
			name, _, _ := unstructured.NestedString(s.(map[string]any), "configMap", "name")
			mounted[name] = true
		}
	}
	for name := range dashboards {
		if !mounted[name] {
			t.Errorf("dashboard ConfigMap %s is not mounted (mounted: %v)", name, mounted)
		}
	}
}

// prometheusServiceURL is the in-namespace URL of the Prometheus add-on's
// Service, from its chart.
func prometheusServiceURL(t *testing.T) string {
	t.Helper()
	r, err := render.New()
	if err != nil {
		t.Fatal(err)
	}
	objs, err := r.Render(render.Prometheus, render.Release{Name: "mesh", Namespace: "loom-system"}, map[string]any{})
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range objs {
		if o.GetKind() != "Service" {
			continue
		}
		ports, _, _ := unstructured.NestedSlice(o.Object, "spec", "ports")
		for _, p := range ports {
			if port, ok := p.(map[string]any)["port"]; ok {
				return fmt.Sprintf("http://%s:%v", o.GetName(), port)
			}
		}
	}
	t.Fatal("the Prometheus add-on has no Service with a port")
	return ""
}
