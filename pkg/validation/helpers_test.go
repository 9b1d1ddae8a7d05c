package validation

import (
	"slices"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"
)

// testCase validates a spec written in YAML. want is the field of an expected error ("" for
// an admitted object, which must have no error at all); warn, if set, the field of an
// expected warning.
type testCase struct {
	name string
	spec string
	want string
	warn string
}

func runCases(t *testing.T, group, kind string, cases []testCase) {
	t.Helper()
	i := slices.IndexFunc(Kinds(), func(k Kind) bool { return k.Group == group && k.Kind == kind })
	if i < 0 {
		t.Fatalf("kind %s/%s not found", group, kind)
	}
	k := Kinds()[i]
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			js, err := yaml.YAMLToJSON([]byte(tc.spec))
			if err != nil {
				t.Fatal(err)
			}
			r := k.Validate(Object{Namespace: "default", Name: "test"}, js)
			switch {
			case tc.want == "" && len(r.Errors) > 0:
				t.Errorf("want admitted, got errors %v", r.Errors)
			case tc.want != "" && !hasField(r.Errors, tc.want):
				t.Errorf("want an error at %s, got errors %v", tc.want, r.Errors)
			}
			if tc.warn != "" && !hasField(r.Warnings, tc.warn) {
				t.Errorf("want a warning at %s, got warnings %v (errors %v)", tc.warn, r.Warnings, r.Errors)
			}
			for _, f := range append(r.Errors, r.Warnings...) {
				if f.Message == "" || !strings.HasPrefix(f.Field, "spec") && !strings.HasPrefix(f.Field, "metadata") {
					t.Errorf("finding without a message or a spec/metadata field: %+v", f)
				}
			}
		})
	}
}

func hasField(fs []Finding, field string) bool {
	return slices.ContainsFunc(fs, func(f Finding) bool { return f.Field == field })
}
