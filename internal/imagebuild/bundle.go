package imagebuild

import (
	"fmt"
	"io/fs"
	"path/filepath"
	"sort"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// FilesSpec describes an image that only carries files, as `FROM scratch`, `ADD dir /`
// and LABEL lines would build it: an OLM bundle image (its manifests/ and metadata/
// folders, with the bundle annotations as labels) is one.
type FilesSpec struct {
	// Name is the image title (org.opencontainers.image.title).
	Name string
	// Dir's files and folders become the image's root, owned by root, 0644 and 0755.
	Dir string
	// Labels join the org.opencontainers.image title and created labels.
	Labels map[string]string
	// Created is the image's creation time and every file's mtime; whole seconds.
	Created time.Time
	// Platforms the index lists; the files are the same for each (no binaries), but
	// runtimes pick an image by platform.
	Platforms []v1.Platform
}

// BuildFiles assembles the image of spec for each platform, sharing one layer, in an OCI
// image index ordered by platform. Only regular files and folders are allowed in Dir.
func BuildFiles(spec FilesSpec) (v1.ImageIndex, error) {
	if spec.Name == "" || spec.Dir == "" || len(spec.Platforms) == 0 {
		return nil, fmt.Errorf("files image %q: name, dir and at least one platform are required", spec.Name)
	}
	if spec.Created.IsZero() || spec.Created.Unix() < 0 {
		return nil, fmt.Errorf("files image %s: created time must be set and not before 1970", spec.Name)
	}
	created := spec.Created.UTC().Truncate(time.Second)
	entries, err := dirEntries(spec.Dir)
	if err != nil {
		return nil, fmt.Errorf("files image %s: %w", spec.Name, err)
	}
	layer, err := newLayer(entries, created)
	if err != nil {
		return nil, fmt.Errorf("files image %s: layer: %w", spec.Name, err)
	}
	labels := map[string]string{
		"org.opencontainers.image.title":   spec.Name,
		"org.opencontainers.image.created": created.Format(time.RFC3339),
	}
	for k, v := range spec.Labels {
		labels[k] = v
	}
	platforms := append([]v1.Platform(nil), spec.Platforms...)
	sort.Slice(platforms, func(i, j int) bool { return platforms[i].String() < platforms[j].String() })

	idx := mutate.IndexMediaType(empty.Index, types.OCIImageIndex)
	for i, platform := range platforms {
		if i > 0 && platform.String() == platforms[i-1].String() {
			return nil, fmt.Errorf("files image %s: platform %s given twice", spec.Name, platform)
		}
		img := mutate.MediaType(empty.Image, types.OCIManifestSchema1)
		img = mutate.ConfigMediaType(img, types.OCIConfigJSON)
		img, err = mutate.Append(img, mutate.Addendum{Layer: layer, MediaType: types.OCILayer, History: v1.History{
			Created: v1.Time{Time: created}, CreatedBy: "loom: the files of " + spec.Name,
		}})
		if err != nil {
			return nil, fmt.Errorf("files image %s %s: %w", spec.Name, platform, err)
		}
		cfg, err := img.ConfigFile()
		if err != nil {
			return nil, fmt.Errorf("files image %s %s: config: %w", spec.Name, platform, err)
		}
		cfg = cfg.DeepCopy()
		cfg.Created = v1.Time{Time: created}
		cfg.OS, cfg.Architecture, cfg.Variant = platform.OS, platform.Architecture, platform.Variant
		cfg.Config = v1.Config{Labels: labels}
		if img, err = mutate.ConfigFile(img, cfg); err != nil {
			return nil, fmt.Errorf("files image %s %s: config: %w", spec.Name, platform, err)
		}
		p := platform
		idx = mutate.AppendManifests(idx, mutate.IndexAddendum{Add: img, Descriptor: v1.Descriptor{Platform: &p}})
	}
	if _, err := idx.Digest(); err != nil {
		return nil, fmt.Errorf("files image %s: index: %w", spec.Name, err)
	}
	return idx, nil
}

// dirEntries lists root's folders and regular files as layer entries, relative to root.
func dirEntries(root string) ([]entry, error) {
	var entries []entry
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(root, path)
		if err != nil || rel == "." {
			return err
		}
		rel = filepath.ToSlash(rel)
		switch {
		case d.IsDir():
			entries = append(entries, entry{path: rel, mode: 0o755, dir: true})
		case d.Type().IsRegular():
			entries = append(entries, entry{path: rel, mode: 0o644, source: path})
		default:
			return fmt.Errorf("%s: only regular files and folders can go into the image", path)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if len(entries) == 0 {
		return nil, fmt.Errorf("folder %s is empty", root)
	}
	return entries, nil
}
