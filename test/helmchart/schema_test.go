package helmchart

import (
	"strings"
	"testing"
)

// values.schema.json refuses wrong types, unknown keys and out-of-range values, naming them.
func TestSchemaRejectsBadValues(t *testing.T) {
	for _, tc := range []struct {
		name  string
		vals  map[string]any
		names string // what the error must mention
	}{
		{"replicas as a string", map[string]any{"replicaCount": "two"}, "replicaCount"},
		{"negative replicas", map[string]any{"replicaCount": -1}, "replicaCount"},
		{"unknown top-level key", map[string]any{"replicas": 2}, "replicas"},
		{"unknown nested key", map[string]any{"image": map[string]any{"repo": "x"}}, "repo"},
		{"bad pull policy", map[string]any{"image": map[string]any{"pullPolicy": "Sometimes"}}, "pullPolicy"},
		{"image tag as a number", map[string]any{"image": map[string]any{"tag": 1.2}}, "tag"},
		{"digest not sha256", map[string]any{"image": map[string]any{"repository": "loom", "digest": "v1.1.0"}}, "digest"},
		{"image registry as a URL", map[string]any{"imageRegistry": "https://quay.io"}, "imageRegistry"},
		{"image registry with a digest", map[string]any{"imageRegistry": "quay.io/loom@sha256:00"}, "imageRegistry"},
		{"unknown log level", map[string]any{"logLevel": "verbose"}, "logLevel"},
		{"zero log verbosity", map[string]any{"logLevel": 0}, "logLevel"},
		{"extra arg without --", map[string]any{"extraArgs": []any{"leader-elect"}}, "extraArgs"},
		{"leader election as a string", map[string]any{"leaderElection": map[string]any{"enabled": "yes"}}, "enabled"},
		{"crds.keep as a string", map[string]any{"crds": map[string]any{"keep": "true"}}, "keep"},
		{"misspelt resources key", map[string]any{"resources": map[string]any{"limit": map[string]any{}}}, "limit"},
		{"nodeSelector value not a string", map[string]any{"nodeSelector": map[string]any{"disk": 1}}, "nodeSelector"},
		{"toleration effect", map[string]any{"tolerations": []any{map[string]any{"key": "a", "effect": "Never"}}}, "effect"},
		{"affinity unknown key", map[string]any{"affinity": map[string]any{"nodeAfinity": map[string]any{}}}, "nodeAfinity"},
		{"port out of range", map[string]any{"metrics": map[string]any{"port": 70000}}, "port"},
		{"service type", map[string]any{"metrics": map[string]any{"service": map[string]any{"type": "Ingress"}}}, "type"},
		{"scrape interval without a unit", map[string]any{"metrics": map[string]any{"serviceMonitor": map[string]any{"interval": "30"}}}, "interval"},
		{"fullnameOverride not a DNS label", map[string]any{"fullnameOverride": "Loom_Operator"}, "fullnameOverride"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := template(loadChart(t, chartDir), tc.vals)
			if err == nil {
				t.Fatalf("values %v accepted", tc.vals)
			}
			if !strings.Contains(err.Error(), "values don't meet the specifications of the schema") || !strings.Contains(err.Error(), tc.names) {
				t.Errorf("error does not come from the schema or does not name %q: %v", tc.names, err)
			}
		})
	}
}

// The schema accepts what the operator accepts: zap's integer verbosity, CPU as a number.
func TestSchemaAcceptsGoodValues(t *testing.T) {
	for _, vals := range []map[string]any{
		{"logLevel": 3},
		{"imageRegistry": "localhost:5000/mirror/"},
		{"logLevel": "error"},
		{"resources": map[string]any{"limits": map[string]any{"cpu": 2}}},
		{"replicaCount": 0},
		{"tolerations": []any{map[string]any{"operator": "Exists"}}},
	} {
		if _, _, err := template(loadChart(t, chartDir), vals); err != nil {
			t.Errorf("values %v refused: %v", vals, err)
		}
	}
}
