// Package imagebuild assembles Loom's container images from static binaries
// without a container engine: one base layer (users, CA certificates, /tmp)
// and one layer holding the binary, per platform, joined in an OCI image
// index. The same inputs, built with the same Go toolchain, give the same
// digests: every timestamp comes from Spec.Created and tar entries are
// written in a fixed order with fixed owners.
package imagebuild

import (
	"fmt"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// DefaultCACerts is where Debian's ca-certificates package puts the bundle.
const DefaultCACerts = "/etc/ssl/certs/ca-certificates.crt"

// NonRootUser is the uid:gid the images run as (distroless' "nonroot").
const NonRootUser = "65532:65532"

// Binary is one platform's static executable.
type Binary struct {
	Platform v1.Platform
	Path     string // on the build host
}

// Spec describes one multi-platform image.
type Spec struct {
	// Name is the image title and the binary's file name in the image (/<Name>).
	Name     string
	Binaries []Binary
	// Entrypoint defaults to ["/<Name>"].
	Entrypoint []string
	// CACerts is the host file copied to /etc/ssl/certs/ca-certificates.crt;
	// DefaultCACerts when empty.
	CACerts string
	// Created is the image's creation time and every file's mtime
	// (SOURCE_DATE_EPOCH, the commit time); truncated to whole seconds.
	Created time.Time
	// Version, Source and Revision become the org.opencontainers.image labels.
	Version  string
	Source   string
	Revision string
}

// ParsePlatform parses "os/arch" (as in --binary linux/amd64=PATH).
func ParsePlatform(s string) (v1.Platform, error) {
	osName, arch, ok := strings.Cut(s, "/")
	if !ok || osName == "" || arch == "" || strings.Contains(arch, "/") {
		return v1.Platform{}, fmt.Errorf("platform %q: want os/arch, e.g. linux/amd64", s)
	}
	return v1.Platform{OS: osName, Architecture: arch}, nil
}

func (s *Spec) validate() error {
	if s.Name == "" || strings.ContainsAny(s.Name, "/ ") {
		return fmt.Errorf("image spec: name %q must be a non-empty file name", s.Name)
	}
	if len(s.Binaries) == 0 {
		return fmt.Errorf("image %s: no binaries given", s.Name)
	}
	seen := map[string]bool{}
	for _, b := range s.Binaries {
		p := b.Platform.String()
		if b.Platform.OS != "linux" {
			return fmt.Errorf("image %s: binary %s: platform %s: only linux images are built", s.Name, b.Path, p)
		}
		if _, ok := elfMachines[b.Platform.Architecture]; !ok {
			return fmt.Errorf("image %s: binary %s: architecture %q not supported (amd64, arm64)", s.Name, b.Path, b.Platform.Architecture)
		}
		if seen[p] {
			return fmt.Errorf("image %s: platform %s given twice", s.Name, p)
		}
		seen[p] = true
	}
	if s.Created.IsZero() || s.Created.Unix() < 0 {
		return fmt.Errorf("image %s: created time must be set and not before 1970", s.Name)
	}
	return nil
}

func (s *Spec) entrypoint() []string {
	if len(s.Entrypoint) > 0 {
		return s.Entrypoint
	}
	return []string{"/" + s.Name}
}

func (s *Spec) caCerts() string {
	if s.CACerts != "" {
		return s.CACerts
	}
	return DefaultCACerts
}

func (s *Spec) created() time.Time { return s.Created.UTC().Truncate(time.Second) }

func (s *Spec) labels() map[string]string {
	labels := map[string]string{
		"org.opencontainers.image.title":   s.Name,
		"org.opencontainers.image.created": s.created().Format(time.RFC3339),
	}
	for key, value := range map[string]string{
		"org.opencontainers.image.version":  s.Version,
		"org.opencontainers.image.source":   s.Source,
		"org.opencontainers.image.revision": s.Revision,
	} {
		if value != "" {
			labels[key] = value
		}
	}
	return labels
}
