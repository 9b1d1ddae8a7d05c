package catalog

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"loom.dev/loom/internal/bundle"
	"loom.dev/loom/internal/imagebuild"
)

const (
	// CatalogRepository is the catalog image's repository under the image registry.
	CatalogRepository = bundle.PackageName + "-catalog"
	// ConfigsDir is where the catalog image carries the file-based catalog, as the
	// Dockerfile `opm generate dockerfile` writes does.
	ConfigsDir = "configs"
	// ConfigsLabel tells catalog readers (opm, OLM v1's catalogd) where the catalog is.
	ConfigsLabel = "operators.operatorframework.io.index.configs.v1"
)

// DefaultCreated is the bundle and catalog images' creation time and their files' mtime.
// It is fixed, not the commit time, so the bundle image's digest depends on the bundle's
// files only and the committed catalog that pins it stays current across commits.
var DefaultCreated = time.Unix(0, 0).UTC()

// Platforms the images list; they carry files only, the same for each.
var Platforms = []v1.Platform{{OS: "linux", Architecture: "amd64"}, {OS: "linux", Architecture: "arm64"}}

// BundleImage builds the registry+v1 bundle image of bundleDir (its manifests/ and
// metadata/ at the root, the bundle annotations as labels), as `loom dev bundle image`
// does with --created set to created.
func BundleImage(bundleDir string, created time.Time) (v1.ImageIndex, error) {
	return imagebuild.BuildFiles(imagebuild.FilesSpec{
		Name:      bundle.BundleRepository,
		Dir:       bundleDir,
		Labels:    bundle.Annotations(),
		Created:   created,
		Platforms: Platforms,
	})
}

// CatalogImage builds the catalog image of catalogDir: its contents under /configs and
// the configs label, as the Dockerfile `opm generate dockerfile` writes lays them out. It
// carries no opm binary (there is no opm base image here): OLM v1's ClusterCatalog reads
// it as it is; OLM v0's CatalogSource needs an image that runs `opm serve /configs`.
func CatalogImage(catalogDir string, created time.Time) (idx v1.ImageIndex, err error) {
	staging, err := os.MkdirTemp("", "loom-catalog-image-")
	if err != nil {
		return nil, err
	}
	defer func() {
		if rmErr := os.RemoveAll(staging); rmErr != nil && err == nil {
			err = rmErr
		}
	}()
	if err := copyTree(catalogDir, filepath.Join(staging, ConfigsDir)); err != nil {
		return nil, fmt.Errorf("catalog image: %w", err)
	}
	// BuildFiles reads the layer's files now, while staging exists: the index is complete.
	return imagebuild.BuildFiles(imagebuild.FilesSpec{
		Name:      CatalogRepository,
		Dir:       staging,
		Labels:    map[string]string{ConfigsLabel: "/" + ConfigsDir},
		Created:   created,
		Platforms: Platforms,
	})
}

// copyTree copies from's folders and regular files to to.
func copyTree(from, to string) error {
	return filepath.WalkDir(from, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(from, path)
		if err != nil {
			return err
		}
		target := filepath.Join(to, rel)
		switch {
		case d.IsDir():
			return os.MkdirAll(target, 0o755)
		case d.Type().IsRegular():
			data, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			return os.WriteFile(target, data, 0o644)
		default:
			return fmt.Errorf("%s: only regular files and folders can go into the catalog image", path)
		}
	})
}
