//go:build !nodev

package cli

import (
	"errors"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/spf13/cobra"

	"loom.dev/loom/internal/imagebuild"
)

func newImageCommand() *cobra.Command {
	image := &cobra.Command{Use: "image", Short: "Build Loom's container images from static binaries, without a container engine, and push them"}
	image.AddCommand(newImageBuildCommand(), newImagePushCommand())
	return image
}

type imageBuildFlags struct {
	name, tag, repository, version string
	binaries, entrypoint           []string
	source, revision, created      string
	out, caCerts                   string
}

func newImageBuildCommand() *cobra.Command {
	var f imageBuildFlags
	cmd := &cobra.Command{
		Use:   "build",
		Short: "Build a multi-platform image: writes OUT/NAME (OCI layout) and OUT/NAME-TAG-linux-HOSTARCH.tar (for ctr images import); prints the index digest",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runImageBuild(cmd, f)
		},
	}
	flags := cmd.Flags()
	flags.StringVar(&f.name, "name", "", "Image name: its title and the binary's path in the image (/NAME)")
	flags.StringVar(&f.tag, "tag", "", "Image tag")
	flags.StringVar(&f.repository, "repository", "", "Repository the tarball and the layout name the image with (default: NAME)")
	flags.StringVar(&f.version, "version", "", "org.opencontainers.image.version label (default: the tag)")
	flags.StringArrayVar(&f.binaries, "binary", nil, "OS/ARCH=PATH of a static binary, once per platform (linux/amd64, linux/arm64)")
	flags.StringArrayVar(&f.entrypoint, "entrypoint", nil, "Entrypoint, one flag per argument (default: /NAME)")
	flags.StringVar(&f.source, "source", "", "org.opencontainers.image.source label (the repository URL)")
	flags.StringVar(&f.revision, "revision", "", "org.opencontainers.image.revision label (the commit)")
	flags.StringVar(&f.created, "created", "", "Creation time and every file's mtime, RFC 3339 or Unix seconds (default: $SOURCE_DATE_EPOCH)")
	flags.StringVar(&f.out, "out", "", "Output directory")
	flags.StringVar(&f.caCerts, "ca-certs", imagebuild.DefaultCACerts, "CA bundle copied to /etc/ssl/certs/ca-certificates.crt")
	for _, required := range []string{"name", "tag", "binary", "out"} {
		_ = cmd.MarkFlagRequired(required)
	}
	return cmd
}

func runImageBuild(cmd *cobra.Command, f imageBuildFlags) error {
	spec, ref, err := f.spec()
	if err != nil {
		return err
	}
	idx, err := imagebuild.Build(spec)
	if err != nil {
		return err
	}
	layoutDir := filepath.Join(f.out, f.name)
	if err := imagebuild.WriteLayout(layoutDir, idx, ref); err != nil {
		return err
	}
	platforms := make([]string, 0, len(spec.Binaries))
	for _, b := range spec.Binaries {
		platforms = append(platforms, b.Platform.String())
	}
	fmt.Fprintf(cmd.ErrOrStderr(), "wrote %s (OCI layout, %s: %s)\n", layoutDir, ref, strings.Join(platforms, " "))

	host := v1.Platform{OS: "linux", Architecture: runtime.GOARCH}
	if _, err := imagebuild.ImageFor(idx, host); err != nil {
		fmt.Fprintf(cmd.ErrOrStderr(), "no %s binary given: no tarball for this host\n", host)
	} else {
		tarPath := filepath.Join(f.out, fmt.Sprintf("%s-%s-linux-%s.tar", f.name, f.tag, runtime.GOARCH))
		if err := imagebuild.WriteTarball(tarPath, idx, host, ref); err != nil {
			return err
		}
		fmt.Fprintf(cmd.ErrOrStderr(), "wrote %s (docker-archive, %s; import with: ctr -n k8s.io images import %s)\n", tarPath, host, tarPath)
	}
	digest, err := idx.Digest()
	if err != nil {
		return err
	}
	fmt.Fprintln(cmd.OutOrStdout(), digest)
	return nil
}

// spec turns the flags into an image spec and the tag the outputs carry.
func (f imageBuildFlags) spec() (imagebuild.Spec, name.Tag, error) {
	repository := f.repository
	if repository == "" {
		repository = f.name
	}
	ref, err := name.NewTag(repository + ":" + f.tag)
	if err != nil {
		return imagebuild.Spec{}, name.Tag{}, fmt.Errorf("--repository %q / --tag %q: %w", repository, f.tag, err)
	}
	created, err := parseCreated(f.created)
	if err != nil {
		return imagebuild.Spec{}, name.Tag{}, err
	}
	version := f.version
	if version == "" {
		version = f.tag
	}
	spec := imagebuild.Spec{
		Name:       f.name,
		Entrypoint: f.entrypoint,
		CACerts:    f.caCerts,
		Created:    created,
		Version:    version,
		Source:     f.source,
		Revision:   f.revision,
	}
	for _, arg := range f.binaries {
		platform, path, ok := strings.Cut(arg, "=")
		if !ok || path == "" {
			return imagebuild.Spec{}, name.Tag{}, fmt.Errorf("--binary %q: want OS/ARCH=PATH, e.g. linux/amd64=bin/linux_amd64/loom", arg)
		}
		p, err := imagebuild.ParsePlatform(platform)
		if err != nil {
			return imagebuild.Spec{}, name.Tag{}, fmt.Errorf("--binary %q: %w", arg, err)
		}
		spec.Binaries = append(spec.Binaries, imagebuild.Binary{Platform: p, Path: path})
	}
	return spec, ref, nil
}

// parseCreated reads --created (or $SOURCE_DATE_EPOCH when it is empty):
// Unix seconds, as `git log -1 --format=%ct` prints, or RFC 3339.
func parseCreated(value string) (time.Time, error) {
	flag := "--created"
	if value == "" {
		value, flag = os.Getenv("SOURCE_DATE_EPOCH"), "$SOURCE_DATE_EPOCH"
	}
	if value == "" {
		return time.Time{}, errors.New("--created not given and $SOURCE_DATE_EPOCH not set: pass the commit time, e.g. --created $(git log -1 --format=%ct)")
	}
	if seconds, err := strconv.ParseInt(value, 10, 64); err == nil {
		return time.Unix(seconds, 0).UTC(), nil
	}
	t, err := time.Parse(time.RFC3339, value)
	if err != nil {
		return time.Time{}, fmt.Errorf("%s %q: want Unix seconds or RFC 3339 (2006-01-02T15:04:05Z)", flag, value)
	}
	return t, nil
}

func newImagePushCommand() *cobra.Command {
	var (
		layoutDir, to string
		insecure      bool
	)
	cmd := &cobra.Command{
		Use:   "push",
		Short: "Push the image index of an OCI layout written by `loom dev image build` to a registry (credentials from the Docker config)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var opts []name.Option
			if insecure {
				opts = append(opts, name.Insecure)
			}
			ref, err := name.ParseReference(to, opts...)
			if err != nil {
				return fmt.Errorf("--to %q: %w", to, err)
			}
			idx, err := imagebuild.ReadLayout(layoutDir)
			if err != nil {
				return err
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			if err := imagebuild.Push(ctx, idx, ref); err != nil {
				return err
			}
			digest, err := idx.Digest()
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s@%s\n", ref.Context(), digest)
			return nil
		},
	}
	cmd.Flags().StringVar(&layoutDir, "layout", "", "OCI layout directory (OUT/NAME of `loom dev image build`)")
	cmd.Flags().StringVar(&to, "to", "", "Destination, REGISTRY/REPOSITORY:TAG")
	cmd.Flags().BoolVar(&insecure, "insecure", false, "Allow plain HTTP to the registry (localhost and private addresses are allowed without it)")
	_ = cmd.MarkFlagRequired("layout")
	_ = cmd.MarkFlagRequired("to")
	return cmd
}
