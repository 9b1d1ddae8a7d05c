package imagebuild

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

const bundleMediaType = "operators.operatorframework.io.bundle.mediatype.v1"

func bundleDir(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	for name, content := range map[string]string{
		"manifests/loom.clusterserviceversion.yaml": "kind: ClusterServiceVersion\n",
		"metadata/annotations.yaml":                 "annotations: {}\n",
	} {
		path := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func filesSpec(dir string) FilesSpec {
	return FilesSpec{
		Name:      "loom-operator-bundle",
		Dir:       dir,
		Labels:    map[string]string{bundleMediaType: "registry+v1"},
		Created:   created,
		Platforms: []v1.Platform{arm64, amd64},
	}
}

func TestBuildFilesCarriesFilesAndLabels(t *testing.T) {
	idx, err := BuildFiles(filesSpec(bundleDir(t)))
	if err != nil {
		t.Fatal(err)
	}
	manifest, err := idx.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	if len(manifest.Manifests) != 2 || manifest.Manifests[0].Platform.String() != "linux/amd64" {
		t.Fatalf("index lists %d manifests (first %v); want linux/amd64 and linux/arm64 in order", len(manifest.Manifests), manifest.Manifests[0].Platform)
	}
	for _, platform := range []v1.Platform{amd64, arm64} {
		img, err := ImageFor(idx, platform)
		if err != nil {
			t.Fatal(err)
		}
		cfg, err := img.ConfigFile()
		if err != nil {
			t.Fatal(err)
		}
		if cfg.Architecture != platform.Architecture || cfg.Config.Labels[bundleMediaType] != "registry+v1" ||
			cfg.Config.Labels["org.opencontainers.image.created"] != "2026-11-30T12:34:56Z" {
			t.Errorf("%s: config arch %q labels %v", platform, cfg.Architecture, cfg.Config.Labels)
		}
		layers, err := img.Layers()
		if err != nil || len(layers) != 1 {
			t.Fatalf("%s: %d layers, %v; want 1", platform, len(layers), err)
		}
		var got []string
		for _, f := range layerFiles(t, layers[0]) {
			got = append(got, f.header.Name+" "+strings.TrimSpace(string(f.content)))
			if f.header.Uid != 0 || !f.header.ModTime.Equal(created) {
				t.Errorf("%s: uid %d mtime %s; want 0, %s", f.header.Name, f.header.Uid, f.header.ModTime, created)
			}
			if want := map[bool]int64{true: 0o755, false: 0o644}[strings.HasSuffix(f.header.Name, "/")]; f.header.Mode != want {
				t.Errorf("%s: mode %o, want %o", f.header.Name, f.header.Mode, want)
			}
		}
		want := []string{
			"manifests/ ",
			"manifests/loom.clusterserviceversion.yaml kind: ClusterServiceVersion",
			"metadata/ ",
			"metadata/annotations.yaml annotations: {}",
		}
		if strings.Join(got, "\n") != strings.Join(want, "\n") {
			t.Errorf("%s: layer files\n%s\nwant\n%s", platform, strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
	}
}

func TestBuildFilesIsReproducible(t *testing.T) {
	a, err := BuildFiles(filesSpec(bundleDir(t)))
	if err != nil {
		t.Fatal(err)
	}
	b, err := BuildFiles(filesSpec(bundleDir(t)))
	if err != nil {
		t.Fatal(err)
	}
	if mustDigest(t, a) != mustDigest(t, b) {
		t.Errorf("same files, two digests: %s and %s", mustDigest(t, a), mustDigest(t, b))
	}
	changed := bundleDir(t)
	if err := os.WriteFile(filepath.Join(changed, "metadata", "annotations.yaml"), []byte("annotations: {a: b}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := BuildFiles(filesSpec(changed))
	if err != nil {
		t.Fatal(err)
	}
	if mustDigest(t, a) == mustDigest(t, c) {
		t.Error("changed file, same digest")
	}
}

func TestBuildFilesRejectsBadInput(t *testing.T) {
	withLink := bundleDir(t)
	if err := os.Symlink("/etc/passwd", filepath.Join(withLink, "manifests", "link.yaml")); err != nil {
		t.Fatal(err)
	}
	noPlatforms := filesSpec(bundleDir(t))
	noPlatforms.Platforms = nil
	twice := filesSpec(bundleDir(t))
	twice.Platforms = []v1.Platform{amd64, amd64}
	for name, spec := range map[string]FilesSpec{
		"symlink":        filesSpec(withLink),
		"empty folder":   filesSpec(t.TempDir()),
		"no platforms":   noPlatforms,
		"platform twice": twice,
		"missing folder": filesSpec(filepath.Join(t.TempDir(), "absent")),
	} {
		if _, err := BuildFiles(spec); err == nil {
			t.Errorf("%s: built; want an error", name)
		}
	}
}
