package helmchart

import (
	"testing"

	"helm.sh/helm/v3/pkg/action"
	"helm.sh/helm/v3/pkg/chartutil"
	"helm.sh/helm/v3/pkg/lint/support"
)

// TestLint runs `helm lint --strict` with the defaults and with every value set.
func TestLint(t *testing.T) {
	for name, vals := range map[string]map[string]any{
		"defaults":   nil,
		"all values": readValuesFile(t, "testdata/all-values.yaml"),
	} {
		t.Run(name, func(t *testing.T) {
			lint := action.NewLint()
			lint.Strict = true
			lint.Namespace = releaseNamespace
			kv, err := chartutil.ParseKubeVersion(kubeVersion)
			if err != nil {
				t.Fatal(err)
			}
			lint.KubeVersion = kv
			result := lint.Run([]string{chartDir}, vals)
			for _, err := range result.Errors {
				t.Errorf("lint error: %v", err)
			}
			for _, msg := range result.Messages {
				// The chart has no icon yet: helm lint reports that as INFO only.
				if msg.Severity >= support.WarningSev {
					t.Errorf("lint: %s", msg)
				}
			}
		})
	}
}
