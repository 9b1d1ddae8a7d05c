package catalog

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"loom.dev/loom/internal/bundle"
	"loom.dev/loom/internal/imagebuild"
)

// repoRoot is where the committed bundle/, catalog/ and config/ live.
const repoRoot = "../.."

// generateBundle writes a fresh bundle (and its tag-referencing catalog) from the
// repository's config/ with registry into a temporary folder.
func generateBundle(t *testing.T, registry string) (bundleDir, catalogDir string) {
	t.Helper()
	opts := bundle.DefaultOptions()
	opts.ConfigDir = filepath.Join(repoRoot, opts.ConfigDir)
	opts.ChartsDir = filepath.Join(repoRoot, opts.ChartsDir)
	opts.ImageRegistry = registry
	dir := t.TempDir()
	bundleDir, catalogDir = filepath.Join(dir, "bundle"), filepath.Join(dir, "catalog")
	if err := bundle.Generate(opts, bundleDir, catalogDir); err != nil {
		t.Fatalf("bundle.Generate: %v", err)
	}
	return bundleDir, catalogDir
}

func readTree(t *testing.T, root string) map[string][]byte {
	t.Helper()
	files := map[string][]byte{}
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(root, path)
		files[filepath.ToSlash(rel)], err = os.ReadFile(path)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}

// imageFiles returns the files of platform's image in idx, by path in the image.
func imageFiles(t *testing.T, idx v1.ImageIndex, platform v1.Platform) (map[string][]byte, *v1.ConfigFile) {
	t.Helper()
	img, err := imagebuild.ImageFor(idx, platform)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	layers, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	files := map[string][]byte{}
	for _, layer := range layers {
		rc, err := layer.Uncompressed()
		if err != nil {
			t.Fatal(err)
		}
		tr := tar.NewReader(rc)
		for {
			h, err := tr.Next()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			if h.Typeflag == tar.TypeReg {
				data, err := io.ReadAll(tr)
				if err != nil {
					t.Fatal(err)
				}
				files[strings.TrimPrefix(h.Name, "./")] = data
			}
		}
		if err := rc.Close(); err != nil {
			t.Fatal(err)
		}
	}
	return files, cfg
}

// Build pins the catalog to the digest of the bundle image it builds, that image (read
// back from the OCI layout written to disk) carries the bundle's files, and the catalog
// passes operator-registry's validation.
func TestBuildPinsTheBundleImageByDigest(t *testing.T) {
	bundleDir, catalogDir := generateBundle(t, "registry.example.com/loom")
	result, err := Build(context.Background(), Options{BundleDir: bundleDir, CatalogDir: catalogDir})
	if err != nil {
		t.Fatalf("Build: %v", err)
	}
	out := t.TempDir()
	if _, err := WriteImages(out, result); err != nil {
		t.Fatalf("WriteImages: %v", err)
	}
	written, err := imagebuild.ReadLayout(filepath.Join(out, bundle.BundleRepository))
	if err != nil {
		t.Fatal(err)
	}
	digest, err := written.Digest()
	if err != nil {
		t.Fatal(err)
	}
	want := "registry.example.com/loom/" + bundle.BundleRepository + "@" + digest.String()
	cfg, err := Validate(context.Background(), catalogDir)
	if err != nil {
		t.Fatalf("Validate: %v", err)
	}
	if len(cfg.Bundles) != 1 || cfg.Bundles[0].Image != want {
		t.Fatalf("catalog bundles %+v; want one with image %s", cfg.Bundles, want)
	}
	if result.BundleRef.String() != want {
		t.Errorf("Build's bundle reference %s; want %s", result.BundleRef, want)
	}
	// The bundle image built here as `loom dev bundle image --created 0` builds it.
	independent, err := imagebuild.BuildFiles(imagebuild.FilesSpec{
		Name: bundle.BundleRepository, Dir: bundleDir, Labels: bundle.Annotations(), Created: time.Unix(0, 0),
		Platforms: []v1.Platform{{OS: "linux", Architecture: "arm64"}, {OS: "linux", Architecture: "amd64"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if d, _ := independent.Digest(); d != digest {
		t.Errorf("bundle image built by the test %s; the catalog pins %s", d, digest)
	}
	related := map[string]string{}
	for _, r := range cfg.Bundles[0].RelatedImages {
		related[r.Name] = r.Image
	}
	if related["bundle"] != want || related["control-plane"] != "registry.example.com/loom/loom:v1.1.0" {
		t.Errorf("relatedImages %v; want the pinned bundle and the control plane under the registry", related)
	}

	bundleFiles := readTree(t, bundleDir)
	for _, platform := range Platforms {
		files, config := imageFiles(t, written, platform)
		for path, content := range bundleFiles {
			if !bytes.Equal(files[path], content) {
				t.Errorf("bundle image %s: %s differs from the bundle's", platform, path)
			}
		}
		if config.Config.Labels["operators.operatorframework.io.bundle.package.v1"] != bundle.PackageName {
			t.Errorf("bundle image %s: labels %v lack the bundle annotations", platform, config.Config.Labels)
		}
	}
}

// The catalog image has the catalog under /configs and the configs label, and what it
// carries validates with operator-registry.
func TestCatalogImageCarriesTheValidCatalog(t *testing.T) {
	bundleDir, catalogDir := generateBundle(t, bundle.DefaultRegistry)
	result, err := Build(context.Background(), Options{BundleDir: bundleDir, CatalogDir: catalogDir})
	if err != nil {
		t.Fatalf("Build: %v", err)
	}
	if got, want := result.CatalogTag.String(), bundle.DefaultRegistry+"/"+CatalogRepository+":v"+bundle.DefaultVersion; got != want {
		t.Errorf("catalog tag %s; want %s", got, want)
	}
	catalogFiles := readTree(t, catalogDir)
	for _, platform := range Platforms {
		files, config := imageFiles(t, result.Catalog, platform)
		if config.Config.Labels[ConfigsLabel] != "/configs" {
			t.Errorf("catalog image %s: label %s = %q; want /configs", platform, ConfigsLabel, config.Config.Labels[ConfigsLabel])
		}
		if len(files) != len(catalogFiles) {
			t.Errorf("catalog image %s: %d files; want the catalog's %d", platform, len(files), len(catalogFiles))
		}
		extracted := t.TempDir()
		for path, content := range files {
			rel, ok := strings.CutPrefix(path, "configs/")
			if !ok {
				t.Errorf("catalog image %s: %s is outside /configs", platform, path)
				continue
			}
			if !bytes.Equal(content, catalogFiles[rel]) {
				t.Errorf("catalog image %s: %s differs from the catalog's %s", platform, path, rel)
			}
			target := filepath.Join(extracted, filepath.FromSlash(rel))
			if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(target, content, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := Validate(context.Background(), extracted); err != nil {
			t.Errorf("catalog image %s: its /configs: %v", platform, err)
		}
	}
}

// The same bundle gives the same digests; a changed bundle file or creation time gives
// another bundle digest.
func TestBuildIsReproducible(t *testing.T) {
	bundleDir, catalogDir := generateBundle(t, bundle.DefaultRegistry)
	build := func(created time.Time) (bundleDigest, catalogDigest string) {
		t.Helper()
		r, err := Build(context.Background(), Options{BundleDir: bundleDir, CatalogDir: catalogDir, Created: created})
		if err != nil {
			t.Fatalf("Build: %v", err)
		}
		d, err := r.Catalog.Digest()
		if err != nil {
			t.Fatal(err)
		}
		return r.BundleRef.DigestStr(), d.String()
	}
	b1, c1 := build(time.Time{})
	b2, c2 := build(DefaultCreated)
	if b1 != b2 || c1 != c2 {
		t.Errorf("two builds of one bundle: bundle %s, %s; catalog %s, %s", b1, b2, c1, c2)
	}
	if b3, _ := build(time.Unix(1764547200, 0)); b3 == b1 {
		t.Error("another creation time gave the same bundle digest")
	}
	csv := filepath.Join(bundleDir, bundle.ManifestsDir, bundle.CSVFile)
	data, err := os.ReadFile(csv)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(csv, bytes.Replace(data, []byte("memory: 64Mi"), []byte("memory: 96Mi"), 1), 0o644); err != nil {
		t.Fatal(err)
	}
	if b4, c4 := build(time.Time{}); b4 == b1 || c4 == c1 {
		t.Error("a changed CSV gave the same bundle or catalog digest")
	}
}

// catalog/ is what `make bundle catalog` writes from the committed config/: the bundle
// image of a freshly generated bundle, pinned by digest.
func TestCommittedCatalogIsCurrent(t *testing.T) {
	bundleDir, catalogDir := generateBundle(t, bundle.DefaultRegistry)
	if _, err := Build(context.Background(), Options{BundleDir: bundleDir, CatalogDir: catalogDir}); err != nil {
		t.Fatalf("Build: %v", err)
	}
	committed := filepath.Join(repoRoot, "catalog")
	want, got := readTree(t, catalogDir), readTree(t, committed)
	for name, content := range want {
		if !bytes.Equal(got[name], content) {
			t.Errorf("%s/%s is stale or missing: run `make bundle catalog` and commit the result", committed, name)
		}
	}
	for name := range got {
		if _, ok := want[name]; !ok {
			t.Errorf("%s/%s is not generated any more: run `make bundle catalog` (it removes it) and commit", committed, name)
		}
	}
	if _, err := Validate(context.Background(), committed); err != nil {
		t.Errorf("committed catalog: %v", err)
	}
}

func TestValidateRefusesATagOrABrokenChannel(t *testing.T) {
	bundleDir, catalogDir := generateBundle(t, bundle.DefaultRegistry)
	// bundle.Generate's catalog names the bundle by tag.
	if _, err := Validate(context.Background(), catalogDir); err == nil || !strings.Contains(err.Error(), "not pinned by digest") {
		t.Errorf("catalog with a tag reference: error %v; want one saying it is not pinned by digest", err)
	}
	if _, err := Build(context.Background(), Options{BundleDir: bundleDir, CatalogDir: catalogDir}); err != nil {
		t.Fatalf("Build: %v", err)
	}
	path := filepath.Join(catalogDir, bundle.CatalogFile)
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	broken := bytes.Replace(data, []byte("- name: "+bundle.PackageName+".v"+bundle.DefaultVersion+"\n"), []byte("- name: "+bundle.PackageName+".v9.9.9\n"), 1)
	if bytes.Equal(broken, data) {
		t.Fatal("the test's edit did not apply to the catalog")
	}
	if err := os.WriteFile(path, broken, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Validate(context.Background(), catalogDir); err == nil || !strings.Contains(err.Error(), "not found in any channel entries") {
		t.Errorf("channel entry naming another bundle: error %v; want operator-registry's saying the bundle is in no channel", err)
	}
}

// A bundle generated without an image registry gives no place to pull the bundle from:
// Build asks for one, and uses the one given.
func TestBuildNeedsARegistry(t *testing.T) {
	bundleDir, catalogDir := generateBundle(t, "")
	_, err := Build(context.Background(), Options{BundleDir: bundleDir, CatalogDir: catalogDir})
	if err == nil || !strings.Contains(err.Error(), bundle.ImageRegistryEnv) {
		t.Errorf("bundle without a registry: error %v; want one naming %s", err, bundle.ImageRegistryEnv)
	}
	r, err := Build(context.Background(), Options{BundleDir: bundleDir, CatalogDir: catalogDir, Registry: "localhost:5000"})
	if err != nil {
		t.Fatalf("Build with a registry: %v", err)
	}
	if got := r.BundleRef.Context().Name(); got != "localhost:5000/"+bundle.BundleRepository {
		t.Errorf("bundle repository %s; want localhost:5000/%s", got, bundle.BundleRepository)
	}
}
