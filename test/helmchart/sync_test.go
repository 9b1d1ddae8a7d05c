package helmchart

import (
	"os"
	"path/filepath"
	"testing"

	"loom.dev/loom/internal/golden"
)

// The chart carries verbatim copies of config/'s CRDs and RBAC rules (Helm reads only files
// inside a chart). This fails when they drift; `go test ./test/helmchart -run TestChartCopiesOfConfig
// -update` copies them again.
func TestChartCopiesOfConfig(t *testing.T) {
	copies := map[string]string{
		filepath.Join(configDir, "rbac", "role.yaml"):                 filepath.Join(chartDir, "files", "rbac", "role.yaml"),
		filepath.Join(configDir, "rbac", "leader_election_role.yaml"): filepath.Join(chartDir, "files", "rbac", "leader_election_role.yaml"),
	}
	for _, src := range crdFiles(t) {
		copies[src] = filepath.Join(chartDir, "files", "crds", filepath.Base(src))
	}
	for src, dst := range copies {
		data, err := os.ReadFile(src)
		if err != nil {
			t.Fatal(err)
		}
		golden.Assert(t, dst, data)
	}
	// A CRD removed from config/ must leave the chart too.
	chartCRDs, err := filepath.Glob(filepath.Join(chartDir, "files", "crds", "*.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if len(chartCRDs) != len(crdFiles(t)) {
		t.Errorf("chart has %d CRDs in files/crds, config/crd/bases has %d", len(chartCRDs), len(crdFiles(t)))
	}
}
