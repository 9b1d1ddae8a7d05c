package imagebuild

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

const (
	// RefNameAnnotation names an image in an OCI layout's index.json; tools
	// (skopeo oci:DIR:TAG, crane, ctr import) look images up by it.
	RefNameAnnotation = "org.opencontainers.image.ref.name"
	// containerdNameAnnotation is the full name `ctr images import` gives an
	// image from an OCI archive.
	containerdNameAnnotation = "io.containerd.image.name"
)

// WriteLayout writes idx as the only entry of a fresh OCI image layout at
// dir, annotated with ref's tag and full name. An existing dir is replaced
// only if it is an OCI layout.
func WriteLayout(dir string, idx v1.ImageIndex, ref name.Tag) error {
	if err := removeLayout(dir); err != nil {
		return err
	}
	top := mutate.AppendManifests(empty.Index, mutate.IndexAddendum{
		Add: idx,
		Descriptor: v1.Descriptor{Annotations: map[string]string{
			RefNameAnnotation:        ref.TagStr(),
			containerdNameAnnotation: containerdName(ref),
		}},
	})
	if _, err := layout.Write(dir, top); err != nil {
		return fmt.Errorf("OCI layout %s: %w", dir, err)
	}
	return nil
}

// containerdName is ref as containerd names it: docker.io/library/loom:v1
// for loom:v1.
func containerdName(ref name.Tag) string {
	registry := ref.RegistryStr()
	if registry == name.DefaultRegistry {
		registry = "docker.io"
	}
	return registry + "/" + ref.RepositoryStr() + ":" + ref.TagStr()
}

func removeLayout(dir string) error {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("OCI layout %s: %w", dir, err)
	}
	if len(entries) == 0 {
		return nil
	}
	if _, err := os.Stat(filepath.Join(dir, "oci-layout")); err != nil {
		return fmt.Errorf("OCI layout %s: directory exists and is not an OCI layout; not replacing it", dir)
	}
	return os.RemoveAll(dir)
}

// ReadLayout returns the image index of the OCI layout at dir, which must
// hold exactly one (as WriteLayout writes it).
func ReadLayout(dir string) (v1.ImageIndex, error) {
	top, err := layout.ImageIndexFromPath(dir)
	if err != nil {
		return nil, fmt.Errorf("OCI layout %s: %w", dir, err)
	}
	manifest, err := top.IndexManifest()
	if err != nil {
		return nil, fmt.Errorf("OCI layout %s: index.json: %w", dir, err)
	}
	if len(manifest.Manifests) != 1 || !manifest.Manifests[0].MediaType.IsIndex() {
		return nil, fmt.Errorf("OCI layout %s: index.json lists %d manifests; want one image index", dir, len(manifest.Manifests))
	}
	idx, err := top.ImageIndex(manifest.Manifests[0].Digest)
	if err != nil {
		return nil, fmt.Errorf("OCI layout %s: %w", dir, err)
	}
	return idx, nil
}

// WriteTarball writes idx's image for platform as a docker-archive tarball
// (`docker load`, `ctr images import`) tagged ref. The archive has no
// manifest, so importers synthesize a Docker schema 2 one: the image's
// config digest (its image ID) and layers survive, its manifest digest
// does not.
func WriteTarball(path string, idx v1.ImageIndex, platform v1.Platform, ref name.Tag) error {
	img, err := ImageFor(idx, platform)
	if err != nil {
		return fmt.Errorf("tarball %s: %w", path, err)
	}
	if err := tarball.WriteToFile(path, ref, img); err != nil {
		return fmt.Errorf("tarball %s: %w", path, err)
	}
	return nil
}

// Push uploads idx and its images to ref, authenticating with the Docker
// config's credentials (authn.DefaultKeychain).
func Push(ctx context.Context, idx v1.ImageIndex, ref name.Reference, opts ...remote.Option) error {
	opts = append([]remote.Option{remote.WithContext(ctx), remote.WithAuthFromKeychain(authn.DefaultKeychain)}, opts...)
	if err := remote.WriteIndex(ref, idx, opts...); err != nil {
		return fmt.Errorf("push %s: %w", ref, err)
	}
	return nil
}
