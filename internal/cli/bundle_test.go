//go:build !nodev

package cli

import (
	"bytes"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"loom.dev/loom/internal/bundle"
	"loom.dev/loom/internal/imagebuild"
)

func runBundle(t *testing.T, args ...string) (string, string, error) {
	t.Helper()
	cmd := newBundleCommand()
	var stdout, stderr bytes.Buffer
	cmd.SetOut(&stdout)
	cmd.SetErr(&stderr)
	cmd.SetArgs(args)
	err := cmd.Execute()
	return stdout.String(), stderr.String(), err
}

// `loom dev bundle` then `loom dev bundle image`: the image carries the bundle's files and
// its annotations as labels, and the same bundle gives the same digest.
func TestBundleGenerateAndImage(t *testing.T) {
	dir := t.TempDir()
	out, catalog, images := filepath.Join(dir, "bundle"), filepath.Join(dir, "catalog"), filepath.Join(dir, "images")
	root := filepath.Join("..", "..")
	if _, stderr, err := runBundle(t, "--out", out, "--catalog", catalog,
		"--config", filepath.Join(root, "config"), "--charts", filepath.Join(root, "pkg", "render", "charts"),
		"--version", "0.2.0", "--bundle-image", "example.com/loom-bundle:v0.2.0"); err != nil {
		t.Fatalf("loom dev bundle: %v\n%s", err, stderr)
	}
	csv, err := os.ReadFile(filepath.Join(out, "manifests", bundle.CSVFile))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(csv, []byte("name: loom-operator.v0.2.0")) {
		t.Error("--version 0.2.0 did not name the CSV loom-operator.v0.2.0")
	}
	fbc, err := os.ReadFile(filepath.Join(catalog, bundle.CatalogFile))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(fbc, []byte("image: example.com/loom-bundle:v0.2.0")) {
		t.Error("--bundle-image is not the catalog's bundle image")
	}

	build := func() string {
		stdout, stderr, err := runBundle(t, "image", "--bundle", out, "--out", images, "--tag", "v0.2.0", "--created", "1764547200")
		if err != nil {
			t.Fatalf("loom dev bundle image: %v\n%s", err, stderr)
		}
		return strings.TrimSpace(stdout)
	}
	first, second := build(), build()
	if !strings.HasPrefix(first, "sha256:") || first != second {
		t.Errorf("digests %q and %q; want one sha256 digest twice", first, second)
	}
	idx, err := imagebuild.ReadLayout(filepath.Join(images, "loom-operator-bundle"))
	if err != nil {
		t.Fatal(err)
	}
	if d, _ := idx.Digest(); d.String() != first {
		t.Errorf("layout's index %s; printed %s", d, first)
	}
	img, err := tarball.ImageFromPath(filepath.Join(images, "loom-operator-bundle-v0.2.0-linux-"+runtime.GOARCH+".tar"), nil)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	for key, value := range bundle.Annotations() {
		if cfg.Config.Labels[key] != value {
			t.Errorf("label %s = %q; want %q", key, cfg.Config.Labels[key], value)
		}
	}
}

func TestBundleImageNeedsOut(t *testing.T) {
	if _, _, err := runBundle(t, "image", "--bundle", t.TempDir()); err == nil || !strings.Contains(err.Error(), "out") {
		t.Errorf("error %v; want one naming the required --out", err)
	}
}
