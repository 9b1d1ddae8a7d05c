package catalog

import (
	"context"
	"fmt"
	"os"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/operator-framework/operator-registry/alpha/declcfg"
	"github.com/operator-framework/operator-registry/pkg/lib/config"
)

// Validate checks the file-based catalog in dir as `opm validate` does (operator-registry's
// loader and model validation: schemas, channels, bundle versions, package properties)
// and that every bundle is pinned by digest, so what OLM installs cannot change under a tag.
func Validate(ctx context.Context, dir string) (*declcfg.DeclarativeConfig, error) {
	if err := config.Validate(ctx, os.DirFS(dir)); err != nil {
		return nil, fmt.Errorf("catalog %s: %w", dir, err)
	}
	cfg, err := declcfg.LoadFS(ctx, os.DirFS(dir))
	if err != nil {
		return nil, fmt.Errorf("catalog %s: %w", dir, err)
	}
	for _, b := range cfg.Bundles {
		if _, err := name.NewDigest(b.Image, name.StrictValidation); err != nil {
			return nil, fmt.Errorf("catalog %s: olm.bundle %s: image %q is not pinned by digest: %w", dir, b.Name, b.Image, err)
		}
	}
	return cfg, nil
}
