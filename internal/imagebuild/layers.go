package imagebuild

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"debug/elf"
	"fmt"
	"io"
	"os"
	"sort"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// gzipLevel is fixed: the compressed bytes, and so the layer digests,
// depend on it.
const gzipLevel = gzip.BestCompression

const nonRootID = 65532

var elfMachines = map[string]elf.Machine{"amd64": elf.EM_X86_64, "arm64": elf.EM_AARCH64}

// entry is one file or directory of a layer.
type entry struct {
	path     string // without the leading slash
	mode     int64  // permission bits, plus sticky
	dir      bool
	uid, gid int
	content  []byte // files only; nil when source is set
	source   string // host file streamed into the layer
}

const (
	passwd = "root:x:0:0:root:/root:/sbin/nologin\n" +
		"nonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n"
	group       = "root:x:0:\nnonroot:x:65532:\n"
	nsswitchCfg = "hosts: files dns\n"
)

func baseEntries(caCerts string) []entry {
	return []entry{
		{path: "etc", mode: 0o755, dir: true},
		{path: "etc/passwd", mode: 0o644, content: []byte(passwd)},
		{path: "etc/group", mode: 0o644, content: []byte(group)},
		{path: "etc/nsswitch.conf", mode: 0o644, content: []byte(nsswitchCfg)},
		{path: "etc/ssl", mode: 0o755, dir: true},
		{path: "etc/ssl/certs", mode: 0o755, dir: true},
		{path: "etc/ssl/certs/ca-certificates.crt", mode: 0o644, source: caCerts},
		{path: "home", mode: 0o755, dir: true},
		{path: "home/nonroot", mode: 0o700, dir: true, uid: nonRootID, gid: nonRootID},
		{path: "root", mode: 0o700, dir: true},
		{path: "tmp", mode: 0o1777, dir: true},
	}
}

// newLayer writes entries, sorted by path, to a gzip-compressed tar in
// memory with every timestamp set to mtime, and returns it as an OCI layer.
func newLayer(entries []entry, mtime time.Time) (v1.Layer, error) {
	sorted := append([]entry(nil), entries...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].path < sorted[j].path })

	var compressed bytes.Buffer
	zw, err := gzip.NewWriterLevel(&compressed, gzipLevel) // header: no name, no mtime
	if err != nil {
		return nil, err
	}
	tw := tar.NewWriter(zw)
	for _, e := range sorted {
		if err := writeEntry(tw, e, mtime); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	blob := compressed.Bytes()
	return tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(blob)), nil
	}, tarball.WithMediaType(types.OCILayer))
}

func writeEntry(tw *tar.Writer, e entry, mtime time.Time) error {
	hdr := &tar.Header{
		Name:    e.path,
		Mode:    e.mode,
		Uid:     e.uid,
		Gid:     e.gid,
		ModTime: mtime,
		Format:  tar.FormatPAX,
	}
	if e.dir {
		hdr.Typeflag, hdr.Name = tar.TypeDir, e.path+"/"
		return tw.WriteHeader(hdr)
	}
	hdr.Typeflag = tar.TypeReg
	if e.source == "" {
		hdr.Size = int64(len(e.content))
		if err := tw.WriteHeader(hdr); err != nil {
			return err
		}
		_, err := tw.Write(e.content)
		return err
	}
	f, err := os.Open(e.source)
	if err != nil {
		return fmt.Errorf("layer file /%s: %w", e.path, err)
	}
	defer func() { _ = f.Close() }()
	info, err := f.Stat()
	if err != nil {
		return fmt.Errorf("layer file /%s: %w", e.path, err)
	}
	if !info.Mode().IsRegular() {
		return fmt.Errorf("layer file /%s: source %s is not a regular file", e.path, e.source)
	}
	hdr.Size = info.Size()
	if err := tw.WriteHeader(hdr); err != nil {
		return err
	}
	if n, err := io.Copy(tw, f); err != nil || n != hdr.Size {
		return fmt.Errorf("layer file /%s: copying %s: %d of %d bytes: %v", e.path, e.source, n, hdr.Size, err)
	}
	return nil
}

// checkStaticELF makes sure path is a statically linked ELF executable for
// arch: the images have no libc and no dynamic loader.
func checkStaticELF(path, arch string) error {
	f, err := elf.Open(path)
	if err != nil {
		return fmt.Errorf("binary %s: %w", path, err)
	}
	defer func() { _ = f.Close() }()
	if want := elfMachines[arch]; f.Machine != want {
		return fmt.Errorf("binary %s: built for %s, not %s (%s)", path, f.Machine, arch, want)
	}
	if f.Type != elf.ET_EXEC && f.Type != elf.ET_DYN {
		return fmt.Errorf("binary %s: ELF type %s is not an executable", path, f.Type)
	}
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			return fmt.Errorf("binary %s: dynamically linked (has an ELF interpreter); build it with CGO_ENABLED=0", path)
		}
	}
	return nil
}
