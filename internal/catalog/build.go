// Package catalog builds Loom's OLM file-based catalog and catalog image: it builds the
// bundle image of a generated bundle, pins the catalog's olm.bundle to that image's
// digest, validates the catalog with operator-registry and puts it into an image.
package catalog

import (
	"context"
	"fmt"
	"path/filepath"
	"runtime"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/operator-framework/api/pkg/manifests"
	operatorsv1alpha1 "github.com/operator-framework/api/pkg/operators/v1alpha1"

	"loom.dev/loom/internal/bundle"
	"loom.dev/loom/internal/imagebuild"
)

// Options say what to build from where.
type Options struct {
	// BundleDir is the generated bundle (bundle/: manifests/, metadata/).
	BundleDir string
	// CatalogDir is the file-based catalog folder; its package folder is replaced.
	CatalogDir string
	// Registry is where the bundle and catalog images are pulled from; empty means the
	// image registry the bundle was generated for (its operator's LOOM_IMAGE_REGISTRY).
	Registry string
	// Created is the images' creation time; zero means DefaultCreated.
	Created time.Time
}

// Result is what Build made.
type Result struct {
	// Version is the bundle's version; the images' tag is v<Version>.
	Version string
	// Bundle is the bundle image, and BundleRef the digest reference the catalog gives.
	Bundle    v1.ImageIndex
	BundleRef name.Digest
	// Catalog is the catalog image, and CatalogTag its tag reference.
	Catalog    v1.ImageIndex
	CatalogTag name.Tag
}

// BundleTag is the bundle image's tag reference (the pinned digest's repository).
func (r *Result) BundleTag() (name.Tag, error) {
	return name.NewTag(r.BundleRef.Context().Name()+":v"+r.Version, name.StrictValidation)
}

// Build builds the bundle image of opts.BundleDir, writes the catalog naming it by
// digest to opts.CatalogDir, validates it, and builds the catalog image.
func Build(ctx context.Context, opts Options) (*Result, error) {
	created := opts.Created
	if created.IsZero() {
		created = DefaultCreated
	}
	b, err := manifests.GetBundleFromDir(opts.BundleDir)
	if err != nil {
		return nil, fmt.Errorf("bundle %s: %w", opts.BundleDir, err)
	}
	if b.CSV == nil {
		return nil, fmt.Errorf("bundle %s: no ClusterServiceVersion", opts.BundleDir)
	}
	registry := opts.Registry
	if registry == "" {
		if registry, err = imageRegistry(b.CSV); err != nil {
			return nil, fmt.Errorf("bundle %s: %w", opts.BundleDir, err)
		}
	}
	version := b.CSV.Spec.Version.String()

	bundleImage, err := BundleImage(opts.BundleDir, created)
	if err != nil {
		return nil, err
	}
	digest, err := bundleImage.Digest()
	if err != nil {
		return nil, fmt.Errorf("bundle image: %w", err)
	}
	ref, err := name.NewDigest(registry+"/"+bundle.BundleRepository+"@"+digest.String(), name.StrictValidation)
	if err != nil {
		return nil, fmt.Errorf("bundle image reference under registry %q: %w", registry, err)
	}
	if err := bundle.WriteCatalog(opts.BundleDir, opts.CatalogDir, ref.String()); err != nil {
		return nil, err
	}
	cfg, err := Validate(ctx, opts.CatalogDir)
	if err != nil {
		return nil, err
	}
	if len(cfg.Bundles) != 1 || cfg.Bundles[0].Image != ref.String() {
		return nil, fmt.Errorf("catalog %s: want one olm.bundle with image %s", opts.CatalogDir, ref)
	}
	catalogImage, err := CatalogImage(opts.CatalogDir, created)
	if err != nil {
		return nil, err
	}
	catalogTag, err := name.NewTag(registry+"/"+CatalogRepository+":v"+version, name.StrictValidation)
	if err != nil {
		return nil, fmt.Errorf("catalog image reference under registry %q: %w", registry, err)
	}
	return &Result{Version: version, Bundle: bundleImage, BundleRef: ref, Catalog: catalogImage, CatalogTag: catalogTag}, nil
}

// imageRegistry is the registry the bundle's operator pulls Loom's images from: the
// value the bundle generator gave its bundle.ImageRegistryEnv.
func imageRegistry(csv *operatorsv1alpha1.ClusterServiceVersion) (string, error) {
	for _, d := range csv.Spec.InstallStrategy.StrategySpec.DeploymentSpecs {
		for _, c := range d.Spec.Template.Spec.Containers {
			for _, env := range c.Env {
				if env.Name != bundle.ImageRegistryEnv {
					continue
				}
				if env.Value == "" {
					return "", fmt.Errorf("ClusterServiceVersion %s: deployment %s: container %s: %s is empty; generate the bundle with an image registry or give one", csv.Name, d.Name, c.Name, bundle.ImageRegistryEnv)
				}
				return env.Value, nil
			}
		}
	}
	return "", fmt.Errorf("ClusterServiceVersion %s: no container sets %s; give an image registry", csv.Name, bundle.ImageRegistryEnv)
}

// WriteImages writes the bundle and catalog images to outDir as OCI layouts
// (<repository>/) and docker-archive tarballs for this host's architecture
// (<repository>-v<version>-linux-<arch>.tar), returning the paths written.
func WriteImages(outDir string, r *Result) ([]string, error) {
	bundleTag, err := r.BundleTag()
	if err != nil {
		return nil, err
	}
	host := v1.Platform{OS: "linux", Architecture: runtime.GOARCH}
	var written []string
	for _, image := range []struct {
		repository string
		index      v1.ImageIndex
		tag        name.Tag
	}{
		{bundle.BundleRepository, r.Bundle, bundleTag},
		{CatalogRepository, r.Catalog, r.CatalogTag},
	} {
		layoutDir := filepath.Join(outDir, image.repository)
		if err := imagebuild.WriteLayout(layoutDir, image.index, image.tag); err != nil {
			return written, err
		}
		tarPath := filepath.Join(outDir, fmt.Sprintf("%s-v%s-linux-%s.tar", image.repository, r.Version, runtime.GOARCH))
		if err := imagebuild.WriteTarball(tarPath, image.index, host, image.tag); err != nil {
			return written, err
		}
		written = append(written, layoutDir, tarPath)
	}
	return written, nil
}
