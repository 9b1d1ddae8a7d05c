package istiocrds

import (
	"strings"
	"testing"

	"loom.dev/loom/pkg/loomcrds"
)

func TestObjectsInstallLoomsOwnCRDsWithTheLabel(t *testing.T) {
	objs, err := Objects()
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range objs {
		if o.GetName() == "ratelimitpolicies.policy.loom.dev" {
			if o.GetLabels()[Label] != "true" {
				t.Errorf("labels = %v, want %s=true so that the operator manages it", o.GetLabels(), Label)
			}
			if _, found := o.Object["status"]; found {
				t.Error("applied CRD carries a status")
			}
			return
		}
	}
	t.Fatal("Objects() lacks ratelimitpolicies.policy.loom.dev")
}

func TestRateLimitPolicyValidation(t *testing.T) {
	crds, err := loomcrds.CRDs()
	if err != nil {
		t.Fatal(err)
	}
	v := newCRValidator(t, crds[0], "v1alpha1")
	const head = "apiVersion: policy.loom.dev/v1alpha1\nkind: RateLimitPolicy\nmetadata: {name: p, namespace: ns}\n"
	cases := []struct {
		name, spec string
		// rejectedAt is a substring of the error; empty when valid.
		rejectedAt string
	}{
		{"minimal", `{rules: [{limit: {requests: 10, unit: Second}}]}`, ""},
		{"full", `{selector: {matchLabels: {app: a}}, rules: [{limit: {requests: 10, unit: Minute, burst: 20},
			match: {routeName: r, path: {prefix: /api}, method: GET, headers: [{name: x-tier, exact: free}]},
			perClient: {header: x-user}, response: {status: 503, headers: [{name: retry-after, value: "1"}]}}]}`, ""},
		{"principal", `{targetRefs: [{kind: Service, name: s}], rules: [{limit: {requests: 1, unit: Hour}, perClient: {sourcePrincipal: true}}]}`, ""},
		{"both targets", `{selector: {matchLabels: {app: a}}, targetRefs: [{kind: Service, name: s}], rules: [{limit: {requests: 1, unit: Hour}}]}`, "selector or targetRefs"},
		{"zero requests", `{rules: [{limit: {requests: 0, unit: Second}}]}`, "spec.rules[0].limit.requests"},
		{"bad unit", `{rules: [{limit: {requests: 1, unit: Day}}]}`, "spec.rules[0].limit.unit"},
		{"small burst", `{rules: [{limit: {requests: 10, unit: Second, burst: 5}}]}`, "burst must be at least requests"},
		{"no rules", `{rules: []}`, "spec.rules"},
		{"two path matches", `{rules: [{limit: {requests: 1, unit: Second}, match: {path: {exact: /a, prefix: /b}}}]}`, "spec.rules[0].match.path"},
		{"empty header match", `{rules: [{limit: {requests: 1, unit: Second}, match: {headers: [{name: x}]}}]}`, "spec.rules[0].match.headers[0]"},
		{"no client key", `{rules: [{limit: {requests: 1, unit: Second}, perClient: {sourcePrincipal: false}}]}`, "spec.rules[0].perClient"},
		{"two client keys", `{rules: [{limit: {requests: 1, unit: Second}, perClient: {sourcePrincipal: true, header: x}}]}`, "spec.rules[0].perClient"},
		{"status 200", `{rules: [{limit: {requests: 1, unit: Second}, response: {status: 200}}]}`, "spec.rules[0].response.status"},
		{"target kind", `{targetRefs: [{kind: Pod, name: p}], rules: [{limit: {requests: 1, unit: Second}}]}`, "spec.targetRefs[0].kind"},
		{"unknown field", `{rules: [{limit: {requests: 1, unit: Second, per: x}}]}`, "per"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			obj, err := decode([]byte(head + "spec: " + strings.ReplaceAll(c.spec, "\n", " ")))
			if err != nil {
				t.Fatal(err)
			}
			errs := v.validate(obj)
			if c.rejectedAt == "" {
				if len(errs) > 0 {
					t.Fatalf("rejected: %v", errs)
				}
				return
			}
			if !strings.Contains(errs.ToAggregate().Error(), c.rejectedAt) && len(errs) > 0 {
				t.Fatalf("rejected, but not at %q: %v", c.rejectedAt, errs)
			}
			if len(errs) == 0 {
				t.Fatalf("accepted, want rejected at %q", c.rejectedAt)
			}
		})
	}
}
