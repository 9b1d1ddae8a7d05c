//go:build !nodev

package cli

import (
	"fmt"
	"path/filepath"
	"runtime"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/spf13/cobra"

	"loom.dev/loom/internal/bundle"
	"loom.dev/loom/internal/imagebuild"
)

func newBundleCommand() *cobra.Command {
	opts := bundle.DefaultOptions()
	var out, catalog string
	cmd := &cobra.Command{
		Use:   "bundle",
		Short: "Generate the OLM bundle (ClusterServiceVersion, CRDs, annotations) and the file-based catalog from config/",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := bundle.Generate(opts, out, catalog); err != nil {
				return err
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "wrote %s (%s %s) and %s\n", out, bundle.PackageName, opts.Version, filepath.Join(catalog, bundle.CatalogFile))
			return nil
		},
	}
	flags := cmd.Flags()
	flags.StringVar(&out, "out", "bundle", "Bundle folder (manifests/ and metadata/ are replaced)")
	flags.StringVar(&catalog, "catalog", "catalog", "File-based catalog folder (its "+bundle.PackageName+"/ is replaced)")
	flags.StringVar(&opts.ConfigDir, "config", opts.ConfigDir, "Kustomize tree the bundle is generated from")
	flags.StringVar(&opts.ChartsDir, "charts", opts.ChartsDir, "Charts the operator deploys (their default images become relatedImages)")
	flags.StringVar(&opts.Version, "version", opts.Version, "Bundle version (semver, no leading v)")
	flags.StringVar(&opts.OperatorImage, "operator-image", opts.OperatorImage, "Operator image the ClusterServiceVersion's Deployment runs")
	flags.StringVar(&opts.BundleImage, "bundle-image", opts.BundleImage, "Bundle image the catalog lists")
	flags.StringVar(&opts.ImageRegistry, "image-registry", opts.ImageRegistry, "Registry of Loom's images: the operator's LOOM_IMAGE_REGISTRY, relatedImages, and the default operator and bundle images")
	cmd.AddCommand(newBundleImageCommand())
	return cmd
}

func newBundleImageCommand() *cobra.Command {
	var dir, repository, tag, created, out string
	cmd := &cobra.Command{
		Use:   "image",
		Short: "Build the bundle image (registry+v1, linux/amd64 and linux/arm64) from a bundle folder: OUT/NAME (OCI layout) and a tarball for this host; prints the index digest",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ref, err := name.NewTag(repository + ":" + tag)
			if err != nil {
				return fmt.Errorf("--repository %q / --tag %q: %w", repository, tag, err)
			}
			when, err := parseCreated(created)
			if err != nil {
				return err
			}
			imageName := filepath.Base(ref.RepositoryStr())
			idx, err := imagebuild.BuildFiles(imagebuild.FilesSpec{
				Name:      imageName,
				Dir:       dir,
				Labels:    bundle.Annotations(),
				Created:   when,
				Platforms: []v1.Platform{{OS: "linux", Architecture: "amd64"}, {OS: "linux", Architecture: "arm64"}},
			})
			if err != nil {
				return err
			}
			layoutDir := filepath.Join(out, imageName)
			if err := imagebuild.WriteLayout(layoutDir, idx, ref); err != nil {
				return err
			}
			host := v1.Platform{OS: "linux", Architecture: runtime.GOARCH}
			tarPath := filepath.Join(out, fmt.Sprintf("%s-%s-linux-%s.tar", imageName, tag, runtime.GOARCH))
			if err := imagebuild.WriteTarball(tarPath, idx, host, ref); err != nil {
				fmt.Fprintf(cmd.ErrOrStderr(), "no tarball for %s: %v\n", host, err)
			} else {
				fmt.Fprintf(cmd.ErrOrStderr(), "wrote %s (OCI layout, %s) and %s\n", layoutDir, ref, tarPath)
			}
			digest, err := idx.Digest()
			if err != nil {
				return err
			}
			fmt.Fprintln(cmd.OutOrStdout(), digest)
			return nil
		},
	}
	flags := cmd.Flags()
	flags.StringVar(&dir, "bundle", "bundle", "Bundle folder (manifests/, metadata/)")
	flags.StringVar(&repository, "repository", bundle.PackageName+"-bundle", "Repository the layout and tarball name the image with")
	flags.StringVar(&tag, "tag", "v"+bundle.DefaultVersion, "Image tag")
	flags.StringVar(&created, "created", "", "Creation time and every file's mtime, RFC 3339 or Unix seconds (default: $SOURCE_DATE_EPOCH)")
	flags.StringVar(&out, "out", "", "Output folder")
	_ = cmd.MarkFlagRequired("out")
	return cmd
}
