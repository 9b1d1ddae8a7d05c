//go:build !nodev

package cli

import (
	"bytes"
	"debug/elf"
	"encoding/binary"
	"io"
	"log"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"loom.dev/loom/internal/imagebuild"
)

// runImage runs `loom dev image ARGS` and returns its stdout and stderr.
func runImage(t *testing.T, args ...string) (string, string, error) {
	t.Helper()
	cmd := newImageCommand()
	var stdout, stderr bytes.Buffer
	cmd.SetOut(&stdout)
	cmd.SetErr(&stderr)
	cmd.SetArgs(args)
	err := cmd.Execute()
	return stdout.String(), stderr.String(), err
}

// staticELF writes a minimal statically linked ELF64 header for machine
// (enough for the build's ELF checks; it does not run).
func staticELF(t *testing.T, path string, machine elf.Machine) string {
	t.Helper()
	var header elf.Header64
	copy(header.Ident[:], elf.ELFMAG)
	header.Ident[elf.EI_CLASS], header.Ident[elf.EI_DATA], header.Ident[elf.EI_VERSION] = byte(elf.ELFCLASS64), byte(elf.ELFDATA2LSB), byte(elf.EV_CURRENT)
	header.Type, header.Machine, header.Version = uint16(elf.ET_EXEC), uint16(machine), uint32(elf.EV_CURRENT)
	header.Phoff, header.Ehsize, header.Phentsize, header.Phnum = 64, 64, 56, 1
	var buf bytes.Buffer
	_ = binary.Write(&buf, binary.LittleEndian, header)
	_ = binary.Write(&buf, binary.LittleEndian, elf.Prog64{Type: uint32(elf.PT_LOAD), Flags: uint32(elf.PF_R | elf.PF_X)})
	buf.WriteString(path)
	if err := os.WriteFile(path, buf.Bytes(), 0o755); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestImageBuildAndPush(t *testing.T) {
	dir := t.TempDir()
	ca := filepath.Join(dir, "ca.crt")
	if err := os.WriteFile(ca, []byte("test CA bundle\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "images")
	build := []string{"build", "--name", "pause", "--tag", "v0.1.0",
		"--binary", "linux/amd64=" + staticELF(t, filepath.Join(dir, "pause-amd64"), elf.EM_X86_64),
		"--binary", "linux/arm64=" + staticELF(t, filepath.Join(dir, "pause-arm64"), elf.EM_AARCH64),
		"--source", "https://github.com/loom-dev/loom", "--revision", "abc1234",
		"--created", "1764000000", "--out", out, "--ca-certs", ca}
	stdout, stderr, err := runImage(t, build...)
	if err != nil {
		t.Fatalf("image build: %v\n%s", err, stderr)
	}
	idx, err := imagebuild.ReadLayout(filepath.Join(out, "pause"))
	if err != nil {
		t.Fatal(err)
	}
	digest, err := idx.Digest()
	if err != nil {
		t.Fatal(err)
	}
	if strings.TrimSpace(stdout) != digest.String() {
		t.Errorf("build printed %q, the layout holds index %s", stdout, digest)
	}
	again, _, err := runImage(t, build...)
	if err != nil || again != stdout {
		t.Errorf("second build printed %q (%v), first %q: not reproducible", again, err, stdout)
	}

	tarPath := filepath.Join(out, "pause-v0.1.0-linux-"+runtime.GOARCH+".tar")
	img, err := tarball.ImageFromPath(tarPath, nil)
	if err != nil {
		t.Fatalf("host tarball: %v (stderr: %s)", err, stderr)
	}
	cfg, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Architecture != runtime.GOARCH || !cfg.Created.Time.Equal(time.Unix(1764000000, 0)) ||
		cfg.Config.Labels["org.opencontainers.image.version"] != "v0.1.0" || cfg.Config.Entrypoint[0] != "/pause" {
		t.Errorf("tarball image config: arch %s, created %s, labels %v, entrypoint %q", cfg.Architecture, cfg.Created, cfg.Config.Labels, cfg.Config.Entrypoint)
	}

	server := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	t.Cleanup(server.Close)
	to := strings.TrimPrefix(server.URL, "http://") + "/loom-dev/pause:v0.1.0"
	pushed, stderr, err := runImage(t, "push", "--layout", filepath.Join(out, "pause"), "--to", to)
	if err != nil {
		t.Fatalf("image push: %v\n%s", err, stderr)
	}
	if !strings.HasSuffix(strings.TrimSpace(pushed), "@"+digest.String()) {
		t.Errorf("push printed %q, want the index digest %s", pushed, digest)
	}
	ref, err := name.ParseReference(to)
	if err != nil {
		t.Fatal(err)
	}
	remoteIdx, err := remote.Index(ref)
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := remoteIdx.Digest(); got != digest {
		t.Errorf("registry has %s, pushed %s", got, digest)
	}
}

func TestImageBuildFlagErrors(t *testing.T) {
	dir := t.TempDir()
	bin := staticELF(t, filepath.Join(dir, "loom"), elf.EM_X86_64)
	base := []string{"build", "--name", "loom", "--tag", "v1", "--out", dir, "--created", "0"}
	for name, tc := range map[string]struct {
		args []string
		want string
	}{
		"binary without platform": {append(base, "--binary", bin), "want OS/ARCH=PATH"},
		"bad platform":            {append(base, "--binary", "amd64="+bin), "want os/arch"},
		"bad created":             {[]string{"build", "--name", "loom", "--tag", "v1", "--out", dir, "--binary", "linux/amd64=" + bin, "--created", "yesterday"}, `--created "yesterday"`},
		"bad tag":                 {[]string{"build", "--name", "loom", "--tag", "v 1", "--out", dir, "--binary", "linux/amd64=" + bin, "--created", "1"}, "--tag"},
		"missing name":            {[]string{"build", "--tag", "v1", "--out", dir, "--binary", "linux/amd64=" + bin}, `"name" not set`},
		"push without layout":     {[]string{"push", "--to", "localhost:1/x:y"}, `"layout" not set`},
		"push a non-layout":       {[]string{"push", "--layout", dir, "--to", "localhost:1/x:y"}, "OCI layout " + dir},
	} {
		t.Run(name, func(t *testing.T) {
			_, _, err := runImage(t, tc.args...)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("loom dev image %v: error %v, want one containing %q", tc.args, err, tc.want)
			}
		})
	}
}

func TestParseCreated(t *testing.T) {
	t.Setenv("SOURCE_DATE_EPOCH", "")
	for value, want := range map[string]time.Time{
		"1764000000":           time.Unix(1764000000, 0),
		"2025-11-24T16:00:00Z": time.Date(2025, 11, 24, 16, 0, 0, 0, time.UTC),
	} {
		if got, err := parseCreated(value); err != nil || !got.Equal(want) {
			t.Errorf("parseCreated(%q) = %s, %v; want %s", value, got, err, want)
		}
	}
	if _, err := parseCreated(""); err == nil || !strings.Contains(err.Error(), "SOURCE_DATE_EPOCH") {
		t.Errorf("parseCreated without a value or $SOURCE_DATE_EPOCH: %v", err)
	}
	t.Setenv("SOURCE_DATE_EPOCH", "1700000000")
	if got, err := parseCreated(""); err != nil || !got.Equal(time.Unix(1700000000, 0)) {
		t.Errorf("parseCreated from $SOURCE_DATE_EPOCH = %s, %v", got, err)
	}
}
