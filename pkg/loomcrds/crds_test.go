package loomcrds

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// TestEmbeddedCRDsAreControllerGensOutput regenerates the CRDs from
// api/policy and compares them with the embedded copies, so that the API
// types stay the single source.
func TestEmbeddedCRDsAreControllerGensOutput(t *testing.T) {
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	gen := filepath.Join(root, "bin", "controller-gen-v0.23.0")
	if _, err := os.Stat(gen); err != nil {
		t.Skipf("%s is not installed (make manifests installs it): %v", gen, err)
	}
	out := t.TempDir()
	cmd := exec.Command(gen, "crd", `paths=./api/policy/...`, "output:crd:artifacts:config="+out)
	cmd.Dir = root
	if msg, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("controller-gen: %v\n%s", err, msg)
	}
	embedded, err := Files()
	if err != nil {
		t.Fatal(err)
	}
	generated, err := filepath.Glob(filepath.Join(out, "*.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if len(generated) != len(embedded) {
		t.Errorf("controller-gen wrote %d CRDs, %d are embedded", len(generated), len(embedded))
	}
	for _, path := range generated {
		want, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if got := embedded[filepath.Base(path)]; !bytes.Equal(got, want) {
			t.Errorf("pkg/loomcrds/crds/%s is stale: regenerate it with bin/controller-gen-v0.23.0 crd paths=\"./api/policy/...\" output:crd:artifacts:config=pkg/loomcrds/crds", filepath.Base(path))
		}
	}
}

func TestCRDsDecode(t *testing.T) {
	crds, err := CRDs()
	if err != nil {
		t.Fatal(err)
	}
	if len(crds) != 1 || crds[0].Name != "ratelimitpolicies.policy.loom.dev" {
		t.Fatalf("embedded CRDs = %v, want ratelimitpolicies.policy.loom.dev", crds)
	}
}
