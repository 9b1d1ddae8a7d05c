package imagebuild

import (
	"fmt"
	"sort"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

const defaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// Build assembles one image per binary and returns them in an OCI image
// index, ordered by platform.
func Build(spec Spec) (v1.ImageIndex, error) {
	if err := spec.validate(); err != nil {
		return nil, err
	}
	base, err := newLayer(baseEntries(spec.caCerts()), spec.created())
	if err != nil {
		return nil, fmt.Errorf("image %s: base layer: %w", spec.Name, err)
	}
	binaries := append([]Binary(nil), spec.Binaries...)
	sort.Slice(binaries, func(i, j int) bool { return binaries[i].Platform.String() < binaries[j].Platform.String() })

	idx := mutate.IndexMediaType(empty.Index, types.OCIImageIndex)
	for _, b := range binaries {
		img, err := buildImage(&spec, base, b)
		if err != nil {
			return nil, err
		}
		platform := b.Platform
		idx = mutate.AppendManifests(idx, mutate.IndexAddendum{
			Add:        img,
			Descriptor: v1.Descriptor{Platform: &platform},
		})
	}
	if _, err := idx.Digest(); err != nil {
		return nil, fmt.Errorf("image %s: index: %w", spec.Name, err)
	}
	return idx, nil
}

func buildImage(spec *Spec, base v1.Layer, b Binary) (v1.Image, error) {
	if err := checkStaticELF(b.Path, b.Platform.Architecture); err != nil {
		return nil, fmt.Errorf("image %s %s: %w", spec.Name, b.Platform, err)
	}
	binary, err := newLayer([]entry{{path: spec.Name, mode: 0o755, source: b.Path}}, spec.created())
	if err != nil {
		return nil, fmt.Errorf("image %s %s: binary layer: %w", spec.Name, b.Platform, err)
	}
	created := v1.Time{Time: spec.created()}
	img := mutate.MediaType(empty.Image, types.OCIManifestSchema1)
	img = mutate.ConfigMediaType(img, types.OCIConfigJSON)
	img, err = mutate.Append(img,
		mutate.Addendum{Layer: base, MediaType: types.OCILayer, History: v1.History{
			Created: created, CreatedBy: "loom dev image build: /etc/passwd, /etc/group, /etc/nsswitch.conf, CA certificates, /tmp",
		}},
		mutate.Addendum{Layer: binary, MediaType: types.OCILayer, History: v1.History{
			Created: created, CreatedBy: "loom dev image build: /" + spec.Name,
		}},
	)
	if err != nil {
		return nil, fmt.Errorf("image %s %s: %w", spec.Name, b.Platform, err)
	}
	cfg, err := img.ConfigFile()
	if err != nil {
		return nil, fmt.Errorf("image %s %s: config: %w", spec.Name, b.Platform, err)
	}
	cfg = cfg.DeepCopy()
	cfg.Created = created
	cfg.OS = b.Platform.OS
	cfg.Architecture = b.Platform.Architecture
	cfg.Variant = b.Platform.Variant
	cfg.Config = v1.Config{
		Entrypoint: spec.entrypoint(),
		User:       NonRootUser,
		WorkingDir: "/",
		Env:        []string{"PATH=" + defaultPath},
		Labels:     spec.labels(),
	}
	img, err = mutate.ConfigFile(img, cfg)
	if err != nil {
		return nil, fmt.Errorf("image %s %s: config: %w", spec.Name, b.Platform, err)
	}
	return img, nil
}

// ImageFor returns the image in idx for platform (os/arch, variant ignored
// unless set).
func ImageFor(idx v1.ImageIndex, platform v1.Platform) (v1.Image, error) {
	manifest, err := idx.IndexManifest()
	if err != nil {
		return nil, err
	}
	var have []string
	for _, desc := range manifest.Manifests {
		if desc.Platform == nil {
			continue
		}
		have = append(have, desc.Platform.String())
		p := desc.Platform
		if p.OS == platform.OS && p.Architecture == platform.Architecture &&
			(platform.Variant == "" || p.Variant == platform.Variant) {
			return idx.Image(desc.Digest)
		}
	}
	return nil, fmt.Errorf("image index has no image for %s (has: %s)", platform, strings.Join(have, ", "))
}
