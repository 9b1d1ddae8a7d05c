package istiocrds

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"k8s.io/apiextensions-apiserver/pkg/apis/apiextensions"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	structuralschema "k8s.io/apiextensions-apiserver/pkg/apiserver/schema"
	"k8s.io/apimachinery/pkg/util/validation/field"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
)

func TestSchemasAreStructural(t *testing.T) {
	for _, crd := range CRDs() {
		for _, v := range crd.Spec.Versions {
			internal := &apiextensions.JSONSchemaProps{}
			if err := apiextensionsv1.Convert_v1_JSONSchemaProps_To_apiextensions_JSONSchemaProps(v.Schema.OpenAPIV3Schema, internal, nil); err != nil {
				t.Fatal(err)
			}
			s, err := structuralschema.NewStructural(internal)
			if err != nil {
				t.Fatalf("%s %s: %v", crd.Name, v.Name, err)
			}
			if errs := structuralschema.ValidateStructural(field.NewPath("openAPIV3Schema"), s); len(errs) > 0 {
				t.Errorf("%s %s is not structural: %v", crd.Name, v.Name, errs.ToAggregate())
			}
		}
	}
}

// istioPublishedCRDs reads the CRDs that the pinned istio.io/api module ships, from the
// module cache: they are the reference our generated schemas must cover.
func istioPublishedCRDs(t *testing.T) map[string]*apiextensionsv1.CustomResourceDefinition {
	t.Helper()
	dir, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "istio.io/api").Output()
	if err != nil {
		t.Fatalf("locating istio.io/api: %v", err)
	}
	data, err := os.ReadFile(filepath.Join(strings.TrimSpace(string(dir)), "kubernetes", "customresourcedefinitions.gen.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	crds := map[string]*apiextensionsv1.CustomResourceDefinition{}
	decoder := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(data), 4096)
	for {
		crd := &apiextensionsv1.CustomResourceDefinition{}
		if err := decoder.Decode(crd); err != nil {
			break
		}
		if crd.Name != "" {
			crds[crd.Name] = crd
		}
	}
	return crds
}

// paths lists every property path of a schema with its type, "[]" marking array items and
// "{}" map values.
func paths(prefix string, s *apiextensionsv1.JSONSchemaProps, out map[string]string) {
	typ := s.Type
	if s.XIntOrString {
		typ = "int-or-string"
	}
	out[prefix] = typ
	for name, p := range s.Properties {
		paths(prefix+"."+name, &p, out)
	}
	if s.Items != nil && s.Items.Schema != nil {
		paths(prefix+"[]", s.Items.Schema, out)
	}
	if s.AdditionalProperties != nil && s.AdditionalProperties.Schema != nil {
		paths(prefix+"{}", s.AdditionalProperties.Schema, out)
	}
}

func TestSchemasCoverIstiosPublishedCRDs(t *testing.T) {
	published := istioPublishedCRDs(t)
	for _, crd := range CRDs() {
		ref, ok := published[crd.Name]
		if !ok {
			t.Errorf("istio.io/api publishes no CRD %s", crd.Name)
			continue
		}
		var refVersions, ours []string
		for _, v := range ref.Spec.Versions {
			refVersions = append(refVersions, v.Name)
		}
		for _, v := range crd.Spec.Versions {
			ours = append(ours, v.Name)
		}
		sort.Strings(refVersions)
		sort.Strings(ours)
		if strings.Join(refVersions, ",") != strings.Join(ours, ",") {
			t.Errorf("%s: versions %v, Istio serves %v", crd.Name, ours, refVersions)
		}
		if ref.Spec.Names.Kind != crd.Spec.Names.Kind || strings.Join(ref.Spec.Names.ShortNames, ",") != strings.Join(crd.Spec.Names.ShortNames, ",") {
			t.Errorf("%s: names %+v, Istio has %+v", crd.Name, crd.Spec.Names, ref.Spec.Names)
		}

		want, got := map[string]string{}, map[string]string{}
		refSpec := ref.Spec.Versions[0].Schema.OpenAPIV3Schema.Properties["spec"]
		ourSpec := crd.Spec.Versions[0].Schema.OpenAPIV3Schema.Properties["spec"]
		paths("spec", &refSpec, want)
		paths("spec", &ourSpec, got)
		var missing, mismatched []string
		for p, typ := range want {
			ourType, ok := got[p]
			switch {
			case !ok:
				missing = append(missing, p)
			case typ != "" && ourType != "" && typ != ourType && (ourType != "int-or-string" || typ != "integer"):
				mismatched = append(mismatched, p+" ("+ourType+", Istio "+typ+")")
			}
		}
		sort.Strings(missing)
		sort.Strings(mismatched)
		if len(missing) > 0 || len(mismatched) > 0 {
			t.Errorf("%s: missing %v; type differs %v", crd.Name, missing, mismatched)
		}
	}
}

// derivedRules lists, per property path, the rules this package derives from descriptors:
// required fields, oneof groups (JSON names only) and CEL rules.
func derivedRules(prefix string, s *apiextensionsv1.JSONSchemaProps, out map[string]string) {
	var rules []string
	if len(s.Required) > 0 {
		req := append([]string(nil), s.Required...)
		sort.Strings(req)
		rules = append(rules, "required "+strings.Join(req, ","))
	}
	groups := []apiextensionsv1.JSONSchemaProps{{OneOf: s.OneOf}}
	if len(s.AllOf) > 0 {
		groups = s.AllOf
	}
	for _, g := range groups {
		var names []string
		for _, alt := range g.OneOf {
			for _, n := range alt.Required {
				if !strings.Contains(n, "_") {
					names = append(names, n)
				}
			}
		}
		if len(names) > 0 {
			sort.Strings(names)
			rules = append(rules, "oneof "+strings.Join(names, ","))
		}
	}
	for _, r := range s.XValidations {
		rules = append(rules, "rule "+r.Rule)
	}
	sort.Strings(rules)
	if len(rules) > 0 {
		out[prefix] = strings.Join(rules, "; ")
	}
	for name, p := range s.Properties {
		derivedRules(prefix+"."+name, &p, out)
	}
	if s.Items != nil && s.Items.Schema != nil {
		derivedRules(prefix+"[]", s.Items.Schema, out)
	}
	if s.AdditionalProperties != nil && s.AdditionalProperties.Schema != nil {
		derivedRules(prefix+"{}", s.AdditionalProperties.Schema, out)
	}
}

// TestDerivedRulesMatchIstios compares the oneofs, required fields and duration rules with
// the ones in Istio's published CRDs, path by path. Istio's other CEL rules come from proto
// comment markers the Go descriptors do not carry; they are listed here as known gaps.
func TestDerivedRulesMatchIstios(t *testing.T) {
	const durationRule = "rule duration(self) >= duration('1ms')"
	published := istioPublishedCRDs(t)
	compared := 0
	for _, crd := range CRDs() {
		ref := published[crd.Name]
		if ref == nil {
			continue // reported by TestSchemasCoverIstiosPublishedCRDs
		}
		want, got := map[string]string{}, map[string]string{}
		refSpec := ref.Spec.Versions[0].Schema.OpenAPIV3Schema.Properties["spec"]
		ourSpec := crd.Spec.Versions[0].Schema.OpenAPIV3Schema.Properties["spec"]
		derivedRules("spec", &refSpec, want)
		derivedRules("spec", &ourSpec, got)
		// Marker rules Loom copies (messageRules) are Istio's too, just not derivable.
		for path, rules := range got {
			var derived []string
			for _, r := range strings.Split(rules, "; ") {
				if !markerRule(r) {
					derived = append(derived, r)
				}
			}
			got[path] = strings.Join(derived, "; ")
		}
		for path, rules := range want {
			// Keep only what descriptors can say: drop Istio's comment-marker CEL rules.
			var derivable []string
			for _, r := range strings.Split(rules, "; ") {
				if !strings.HasPrefix(r, "rule ") || r == durationRule {
					derivable = append(derivable, r)
				}
			}
			want[path] = strings.Join(derivable, "; ")
		}
		for path := range got {
			if _, inIstio := want[path]; !inIstio && !strings.Contains(path, "_") {
				want[path] = ""
			}
		}
		for path, w := range want {
			if w != "" {
				compared++
			}
			g := got[path]
			if g != w {
				t.Errorf("%s %s: ours %q, Istio %q", crd.Name, path, g, w)
			}
		}
	}
	if compared < 100 {
		t.Errorf("only %d rules compared: the walk misses Istio's schemas", compared)
	}
}

func markerRule(r string) bool {
	for _, rules := range messageRules {
		for _, rule := range rules {
			if r == "rule "+rule.Rule {
				return true
			}
		}
	}
	return false
}
