package imagebuild

import (
	"context"
	"encoding/json"
	"io"
	"log"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/google/go-containerregistry/pkg/v1/validate"
)

func mustTag(t *testing.T, s string) name.Tag {
	t.Helper()
	tag, err := name.NewTag(s)
	if err != nil {
		t.Fatal(err)
	}
	return tag
}

func TestLayoutRoundTrip(t *testing.T) {
	dir := t.TempDir()
	idx := mustBuild(t, testSpec(t, dir))
	out := filepath.Join(dir, "out", "loom")
	if err := WriteLayout(out, idx, mustTag(t, "ghcr.io/loom-dev/loom:v1.2.3")); err != nil {
		t.Fatal(err)
	}
	// Writing again replaces the layout rather than appending to it.
	if err := WriteLayout(out, idx, mustTag(t, "ghcr.io/loom-dev/loom:v1.2.3")); err != nil {
		t.Fatal(err)
	}

	desc := readIndexJSON(t, out)
	if desc.MediaType != types.OCIImageIndex || desc.Digest != mustDigest(t, idx) {
		t.Errorf("index.json points at %s %s, want the image index %s", desc.MediaType, desc.Digest, mustDigest(t, idx))
	}
	wantAnnotations := map[string]string{RefNameAnnotation: "v1.2.3", "io.containerd.image.name": "ghcr.io/loom-dev/loom:v1.2.3"}
	if !reflect.DeepEqual(desc.Annotations, wantAnnotations) {
		t.Errorf("annotations %v, want %v", desc.Annotations, wantAnnotations)
	}

	read, err := ReadLayout(out)
	if err != nil {
		t.Fatal(err)
	}
	if mustDigest(t, read) != mustDigest(t, idx) {
		t.Errorf("layout holds index %s, built %s", mustDigest(t, read), mustDigest(t, idx))
	}
	if err := validate.Index(read); err != nil {
		t.Errorf("index read from the layout is not valid: %v", err)
	}

	notLayout := filepath.Join(dir, "precious")
	if err := os.MkdirAll(notLayout, 0o755); err != nil {
		t.Fatal(err)
	}
	writeFile(t, notLayout, "keep-me", []byte("x"))
	if err := WriteLayout(out, idx, mustTag(t, "loom:v1")); err != nil {
		t.Fatal(err)
	}
	if got := readIndexJSON(t, out).Annotations["io.containerd.image.name"]; got != "docker.io/library/loom:v1" {
		t.Errorf("containerd name of loom:v1 = %q, want docker.io/library/loom:v1", got)
	}

	if err := WriteLayout(notLayout, idx, mustTag(t, "loom:v1")); err == nil || !strings.Contains(err.Error(), "not an OCI layout") {
		t.Errorf("WriteLayout over a non-layout directory: %v, want a refusal", err)
	}
	if _, err := os.Stat(filepath.Join(notLayout, "keep-me")); err != nil {
		t.Errorf("WriteLayout removed a file it did not own: %v", err)
	}
}

// readIndexJSON returns the one descriptor index.json of the layout at dir lists.
func readIndexJSON(t *testing.T, dir string) v1.Descriptor {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(dir, "index.json"))
	if err != nil {
		t.Fatal(err)
	}
	var top v1.IndexManifest
	if err := json.Unmarshal(raw, &top); err != nil {
		t.Fatal(err)
	}
	if len(top.Manifests) != 1 {
		t.Fatalf("index.json lists %d manifests, want 1: %s", len(top.Manifests), raw)
	}
	return top.Manifests[0]
}

func TestTarballLoadsBack(t *testing.T) {
	dir := t.TempDir()
	idx := mustBuild(t, testSpec(t, dir))
	path := filepath.Join(dir, "loom-v1.2.3-linux-arm64.tar")
	ref := mustTag(t, "loom:v1.2.3")
	if err := WriteTarball(path, idx, arm64, ref); err != nil {
		t.Fatal(err)
	}

	// docker-archive: a manifest.json naming the tag, the config and the layers.
	entries, err := tarball.LoadManifest(func() (io.ReadCloser, error) { return os.Open(path) })
	if err != nil {
		t.Fatalf("%s is not a docker-archive: %v", path, err)
	}
	if len(entries) != 1 || !reflect.DeepEqual(entries[0].RepoTags, []string{"loom:v1.2.3"}) || len(entries[0].Layers) != 2 {
		t.Fatalf("manifest.json = %+v, want one image tagged loom:v1.2.3 with two layers", entries)
	}

	loaded, err := tarball.ImageFromPath(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	want, err := ImageFor(idx, arm64)
	if err != nil {
		t.Fatal(err)
	}
	// A docker-archive carries no manifest: its image ID (the config digest)
	// and its layers are the index entry's; the manifest is synthesized.
	loadedID, err := loaded.ConfigName()
	if err != nil {
		t.Fatal(err)
	}
	wantID, err := want.ConfigName()
	if err != nil {
		t.Fatal(err)
	}
	if loadedID != wantID {
		t.Errorf("tarball image ID %s, index entry for linux/arm64 has %s", loadedID, wantID)
	}
	if got, wantLayers := layerDigests(t, loaded), layerDigests(t, want); !reflect.DeepEqual(got, wantLayers) {
		t.Errorf("tarball layers %v, index entry's %v", got, wantLayers)
	}
	if err := validate.Image(loaded); err != nil {
		t.Errorf("tarball image is not valid: %v", err)
	}

	if err := WriteTarball(path, idx, v1.Platform{OS: "linux", Architecture: "s390x"}, ref); err == nil || !strings.Contains(err.Error(), "linux/amd64, linux/arm64") {
		t.Errorf("WriteTarball for a platform the index lacks: %v, want an error naming the platforms it has", err)
	}
}

func layerDigests(t *testing.T, img v1.Image) []v1.Hash {
	t.Helper()
	manifest, err := img.Manifest()
	if err != nil {
		t.Fatal(err)
	}
	var digests []v1.Hash
	for _, l := range manifest.Layers {
		digests = append(digests, l.Digest)
	}
	return digests
}

func TestPushAndPullBack(t *testing.T) {
	server := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	t.Cleanup(server.Close)
	host := strings.TrimPrefix(server.URL, "http://")

	idx := mustBuild(t, testSpec(t, t.TempDir()))
	ref := mustTag(t, host+"/loom-dev/loom:v1.2.3")
	if err := Push(context.Background(), idx, ref); err != nil {
		t.Fatal(err)
	}

	pulled, err := remote.Index(ref)
	if err != nil {
		t.Fatal(err)
	}
	if mustDigest(t, pulled) != mustDigest(t, idx) {
		t.Fatalf("pulled index %s, pushed %s", mustDigest(t, pulled), mustDigest(t, idx))
	}
	if err := validate.Index(pulled); err != nil {
		t.Errorf("pulled index is not valid: %v", err)
	}
	for _, platform := range []v1.Platform{amd64, arm64} {
		img, err := remote.Image(ref, remote.WithPlatform(platform))
		if err != nil {
			t.Fatal(err)
		}
		want, err := ImageFor(idx, platform)
		if err != nil {
			t.Fatal(err)
		}
		if mustDigest(t, img) != mustDigest(t, want) {
			t.Errorf("pulled %s image %s, built %s", platform, mustDigest(t, img), mustDigest(t, want))
		}
	}
}
