package istiocrds

import (
	"testing"

	"k8s.io/apiextensions-apiserver/pkg/apis/apiextensions"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	structuralschema "k8s.io/apiextensions-apiserver/pkg/apiserver/schema"
	"k8s.io/apiextensions-apiserver/pkg/apiserver/schema/cel"
	"k8s.io/apiextensions-apiserver/pkg/apiserver/schema/cel/model"
	celconfig "k8s.io/apiserver/pkg/apis/cel"
	"k8s.io/apiserver/pkg/cel/environment"
)

// The apiserver's static CEL cost limits for a CRD (StaticEstimatedCostLimit and
// StaticEstimatedCRDCostLimit in k8s.io/apiextensions-apiserver's CRD validation, a package
// whose dependencies this module does not carry).
const (
	perRuleCostLimit = 10_000_000
	perCRDCostLimit  = 100_000_000
)

// celCost estimates the CEL cost of a schema as the apiserver does when it admits a CRD: each
// rule's worst-case cost times the number of times it can run, bounded by the maxItems and
// maxProperties of the lists and maps above it, or else by how many of its values fit in a
// request.
func celCost(t *testing.T, s *structuralschema.Structural, cardinality uint64, bounded bool, each func(cost uint64)) {
	t.Helper()
	if len(s.XValidations) > 0 {
		results, err := cel.Compile(s, model.SchemaDeclType(s, false), celconfig.PerCallLimit,
			environment.MustBaseEnvSet(environment.DefaultCompatibilityVersion()), cel.NewExpressionsEnvLoader())
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range results {
			if r.Error != nil {
				t.Fatalf("a rule does not compile: %v", r.Error)
			}
			n := r.MaxCardinality
			if bounded {
				n = cardinality
			}
			each(r.MaxCost * n)
		}
	}
	for _, p := range s.Properties {
		celCost(t, &p, cardinality, bounded, each)
	}
	child := func(c *structuralschema.Structural, limit *int64) {
		if limit == nil {
			celCost(t, c, 0, false, each)
		} else {
			celCost(t, c, cardinality*uint64(*limit), bounded, each)
		}
	}
	if s.Items != nil {
		var limit *int64
		if s.ValueValidation != nil {
			limit = s.ValueValidation.MaxItems
		}
		child(s.Items, limit)
	}
	if s.AdditionalProperties != nil && s.AdditionalProperties.Structural != nil {
		var limit *int64
		if s.ValueValidation != nil {
			limit = s.ValueValidation.MaxProperties
		}
		child(s.AdditionalProperties.Structural, limit)
	}
}

func TestCELRulesFitTheAPIServersCostBudget(t *testing.T) {
	for _, crd := range CRDs() {
		for _, v := range crd.Spec.Versions {
			internal := &apiextensions.JSONSchemaProps{}
			if err := apiextensionsv1.Convert_v1_JSONSchemaProps_To_apiextensions_JSONSchemaProps(v.Schema.OpenAPIV3Schema, internal, nil); err != nil {
				t.Fatal(err)
			}
			s, err := structuralschema.NewStructural(internal)
			if err != nil {
				t.Fatal(err)
			}
			var total uint64
			celCost(t, s, 1, true, func(cost uint64) {
				if cost > perRuleCostLimit {
					t.Errorf("%s %s: a rule costs %d, over the apiserver's %d", crd.Name, v.Name, cost, perRuleCostLimit)
				}
				total += cost
			})
			if total > perCRDCostLimit {
				t.Errorf("%s %s: CEL rules cost %d in total, over the apiserver's %d", crd.Name, v.Name, total, perCRDCostLimit)
			}
			t.Logf("%s %s: %.2f of the CEL cost budget", crd.Name, v.Name, float64(total)/perCRDCostLimit)
		}
	}
}
