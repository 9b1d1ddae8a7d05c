package imagebuild

import (
	"archive/tar"
	"bytes"
	"debug/elf"
	"encoding/binary"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

var (
	amd64   = v1.Platform{OS: "linux", Architecture: "amd64"}
	arm64   = v1.Platform{OS: "linux", Architecture: "arm64"}
	created = time.Date(2026, 11, 30, 12, 34, 56, 0, time.UTC)
)

// elfExecutable returns the bytes of a minimal ELF64 executable header for
// machine, with one PT_LOAD program header (plus PT_INTERP when dynamic)
// followed by payload: enough for debug/elf, not meant to run.
func elfExecutable(t *testing.T, machine elf.Machine, dynamic bool, payload []byte) []byte {
	t.Helper()
	progs := []elf.Prog64{{Type: uint32(elf.PT_LOAD), Flags: uint32(elf.PF_R | elf.PF_X), Align: 0x1000}}
	if dynamic {
		progs = append(progs, elf.Prog64{Type: uint32(elf.PT_INTERP), Flags: uint32(elf.PF_R), Align: 1})
	}
	var header elf.Header64
	copy(header.Ident[:], elf.ELFMAG)
	header.Ident[elf.EI_CLASS] = byte(elf.ELFCLASS64)
	header.Ident[elf.EI_DATA] = byte(elf.ELFDATA2LSB)
	header.Ident[elf.EI_VERSION] = byte(elf.EV_CURRENT)
	header.Type = uint16(elf.ET_EXEC)
	header.Machine = uint16(machine)
	header.Version = uint32(elf.EV_CURRENT)
	header.Phoff = 64
	header.Ehsize = 64
	header.Phentsize = 56
	header.Phnum = uint16(len(progs))
	var buf bytes.Buffer
	if err := binary.Write(&buf, binary.LittleEndian, header); err != nil {
		t.Fatal(err)
	}
	for _, p := range progs {
		if err := binary.Write(&buf, binary.LittleEndian, p); err != nil {
			t.Fatal(err)
		}
	}
	buf.Write(payload)
	return buf.Bytes()
}

func writeFile(t *testing.T, dir, name string, content []byte) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, content, 0o755); err != nil {
		t.Fatal(err)
	}
	return path
}

// testSpec writes an amd64 and an arm64 binary and a CA bundle to dir and
// returns the spec of a "loom" image built from them.
func testSpec(t *testing.T, dir string) Spec {
	t.Helper()
	return Spec{
		Name: "loom",
		Binaries: []Binary{
			{Platform: arm64, Path: writeFile(t, dir, "loom-arm64", elfExecutable(t, elf.EM_AARCH64, false, []byte("arm64 program")))},
			{Platform: amd64, Path: writeFile(t, dir, "loom-amd64", elfExecutable(t, elf.EM_X86_64, false, []byte("amd64 program")))},
		},
		CACerts:  writeFile(t, dir, "ca.crt", []byte("-----BEGIN CERTIFICATE-----\ntest\n-----END CERTIFICATE-----\n")),
		Created:  created,
		Version:  "v1.2.3",
		Source:   "https://github.com/loom-dev/loom",
		Revision: "abc1234",
	}
}

func mustBuild(t *testing.T, spec Spec) v1.ImageIndex {
	t.Helper()
	idx, err := Build(spec)
	if err != nil {
		t.Fatalf("Build: %v", err)
	}
	return idx
}

func mustDigest(t *testing.T, d interface{ Digest() (v1.Hash, error) }) v1.Hash {
	t.Helper()
	h, err := d.Digest()
	if err != nil {
		t.Fatal(err)
	}
	return h
}

type tarFile struct {
	header  tar.Header
	content []byte
}

// layerFiles reads the uncompressed tar of layer, in order.
func layerFiles(t *testing.T, layer v1.Layer) []tarFile {
	t.Helper()
	rc, err := layer.Uncompressed()
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = rc.Close() }()
	var files []tarFile
	tr := tar.NewReader(rc)
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return files
		}
		if err != nil {
			t.Fatal(err)
		}
		content, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, tarFile{header: *hdr, content: content})
	}
}
