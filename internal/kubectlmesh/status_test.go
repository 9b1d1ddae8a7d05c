package kubectlmesh

import (
	"path/filepath"
	"strings"
	"testing"

	"loom.dev/loom/internal/golden"
)

func TestStatusGolden(t *testing.T) {
	for name, args := range map[string][]string{
		"status.txt":      {"status"},
		"status-wide.txt": {"status", "demo", "-o", "wide"},
		"status.yaml":     {"status", "demo", "-o", "yaml"},
		"status.json":     {"status", "-o", "json"},
	} {
		t.Run(name, func(t *testing.T) {
			out, err := run(t, nil, clusterObjects(), args...)
			if err != nil {
				t.Fatalf("kubectl mesh %s: %v", strings.Join(args, " "), err)
			}
			golden.Assert(t, filepath.Join("testdata", name), []byte(out))
		})
	}
}

func TestStatusErrors(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"status", "nope"}, `MeshOperator nope: meshoperators.operator.loom.dev "nope" not found`},
		{[]string{"status", "-o", "xml"}, `-o "xml": unsupported output format`},
	} {
		_, err := run(t, nil, clusterObjects(), tc.args...)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("kubectl mesh %s: error %v, want one containing %q", strings.Join(tc.args, " "), err, tc.want)
		}
	}
	if _, err := run(t, nil, nil, "status"); err == nil || !strings.Contains(err.Error(), "no MeshOperator found") {
		t.Errorf("status with no mesh: error %v, want no MeshOperator found", err)
	}
}
