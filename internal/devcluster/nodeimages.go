package devcluster

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"

	"loom.dev/loom/internal/imagebuild"
)

// Images the node builds for itself from the node binaries: the pod sandbox (pause) and
// cluster DNS. Pods never pull them: they are imported before the node is Ready.
var (
	PauseImage   = "loom.dev/pause:" + PauseVersion
	CoreDNSImage = "loom.dev/coredns:" + CoreDNSVersion
)

type nodeImageSet struct {
	Pause, CoreDNS string
	Tarballs       []string
}

// nodeImages builds the pause and CoreDNS images as tarballs in outDir.
func nodeImages(assets, outDir string) (nodeImageSet, error) {
	if err := os.MkdirAll(outDir, 0o700); err != nil {
		return nodeImageSet{}, err
	}
	set := nodeImageSet{Pause: PauseImage, CoreDNS: CoreDNSImage}
	for _, img := range []struct{ binary, ref string }{
		{"pause", PauseImage},
		{"coredns", CoreDNSImage},
	} {
		tarball, err := buildNodeImage(filepath.Join(assets, img.binary), img.binary, img.ref, outDir)
		if err != nil {
			return nodeImageSet{}, err
		}
		set.Tarballs = append(set.Tarballs, tarball)
	}
	return set, nil
}

func buildNodeImage(binary, imageName, ref, outDir string) (string, error) {
	info, err := os.Stat(binary)
	if err != nil {
		return "", fmt.Errorf("node image %s: %w (run `make node-binaries`)", ref, err)
	}
	tag, err := name.NewTag(ref)
	if err != nil {
		return "", err
	}
	platform := v1.Platform{OS: "linux", Architecture: runtime.GOARCH}
	idx, err := imagebuild.Build(imagebuild.Spec{
		Name:     imageName,
		Binaries: []imagebuild.Binary{{Platform: platform, Path: binary}},
		Created:  info.ModTime(),
	})
	if err != nil {
		return "", err
	}
	tarball := filepath.Join(outDir, imageName+".tar")
	return tarball, imagebuild.WriteTarball(tarball, idx, platform, tag)
}
