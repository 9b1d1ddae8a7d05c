package imagebuild

import (
	"bytes"
	"debug/elf"
	"os"
	"reflect"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/v1/types"
)

func TestBuildIsReproducible(t *testing.T) {
	dir := t.TempDir()
	spec := testSpec(t, dir)
	first := mustDigest(t, mustBuild(t, spec))
	if again := mustDigest(t, mustBuild(t, spec)); again != first {
		t.Fatalf("two builds from the same inputs: index digests %s and %s", first, again)
	}
	firstARM, err := ImageFor(mustBuild(t, spec), arm64)
	if err != nil {
		t.Fatal(err)
	}

	// One byte of the amd64 binary changes the index and the amd64 image, not the arm64 image.
	amd64Path := spec.Binaries[1].Path
	content, err := os.ReadFile(amd64Path)
	if err != nil {
		t.Fatal(err)
	}
	content[len(content)-1] ^= 1
	if err := os.WriteFile(amd64Path, content, 0o755); err != nil {
		t.Fatal(err)
	}
	changed := mustBuild(t, spec)
	if mustDigest(t, changed) == first {
		t.Fatalf("index digest %s did not change with the binary", first)
	}
	changedARM, err := ImageFor(changed, arm64)
	if err != nil {
		t.Fatal(err)
	}
	if mustDigest(t, changedARM) != mustDigest(t, firstARM) {
		t.Errorf("arm64 image changed when only the amd64 binary did")
	}

	// So does the creation time.
	spec.Created = spec.Created.Add(1e9)
	if mustDigest(t, mustBuild(t, spec)) == mustDigest(t, changed) {
		t.Errorf("index digest did not change with the created time")
	}
}

func TestIndexListsEachPlatform(t *testing.T) {
	idx := mustBuild(t, testSpec(t, t.TempDir()))
	manifest, err := idx.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	if manifest.MediaType != types.OCIImageIndex {
		t.Errorf("index media type %q, want %q", manifest.MediaType, types.OCIImageIndex)
	}
	var platforms []string
	for _, desc := range manifest.Manifests {
		if desc.MediaType != types.OCIManifestSchema1 {
			t.Errorf("manifest %s: media type %q, want %q", desc.Digest, desc.MediaType, types.OCIManifestSchema1)
		}
		if desc.Platform == nil {
			t.Fatalf("manifest %s has no platform", desc.Digest)
		}
		platforms = append(platforms, desc.Platform.OS+"/"+desc.Platform.Architecture)
		img, err := idx.Image(desc.Digest)
		if err != nil {
			t.Fatal(err)
		}
		cfg, err := img.ConfigFile()
		if err != nil {
			t.Fatal(err)
		}
		if cfg.OS != desc.Platform.OS || cfg.Architecture != desc.Platform.Architecture {
			t.Errorf("manifest for %s has a config for %s/%s", desc.Platform, cfg.OS, cfg.Architecture)
		}
	}
	if want := []string{"linux/amd64", "linux/arm64"}; !reflect.DeepEqual(platforms, want) {
		t.Errorf("index platforms %v, want %v", platforms, want)
	}
}

func TestImageConfig(t *testing.T) {
	spec := testSpec(t, t.TempDir())
	img, err := ImageFor(mustBuild(t, spec), amd64)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	if !cfg.Created.Time.Equal(created) {
		t.Errorf("created %s, want %s", cfg.Created.Time, created)
	}
	c := cfg.Config
	if c.User != "65532:65532" {
		t.Errorf("user %q, want the non-root 65532:65532", c.User)
	}
	if !reflect.DeepEqual(c.Entrypoint, []string{"/loom"}) {
		t.Errorf("entrypoint %q, want [/loom]", c.Entrypoint)
	}
	if c.WorkingDir != "/" {
		t.Errorf("working dir %q, want /", c.WorkingDir)
	}
	if len(c.Env) != 1 || !strings.HasPrefix(c.Env[0], "PATH=/") {
		t.Errorf("env %q, want only PATH", c.Env)
	}
	wantLabels := map[string]string{
		"org.opencontainers.image.title":    "loom",
		"org.opencontainers.image.version":  "v1.2.3",
		"org.opencontainers.image.source":   "https://github.com/loom-dev/loom",
		"org.opencontainers.image.revision": "abc1234",
		"org.opencontainers.image.created":  "2026-11-30T12:34:56Z",
	}
	if !reflect.DeepEqual(c.Labels, wantLabels) {
		t.Errorf("labels %v, want %v", c.Labels, wantLabels)
	}
	if len(cfg.History) != 2 || !cfg.History[1].Created.Time.Equal(created) {
		t.Errorf("history %+v, want two entries created at %s", cfg.History, created)
	}

	spec.Entrypoint = []string{"/loom", "discovery"}
	img, err = ImageFor(mustBuild(t, spec), arm64)
	if err != nil {
		t.Fatal(err)
	}
	if cfg, err = img.ConfigFile(); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(cfg.Config.Entrypoint, spec.Entrypoint) {
		t.Errorf("entrypoint %q, want %q", cfg.Config.Entrypoint, spec.Entrypoint)
	}
}

func TestLayers(t *testing.T) {
	spec := testSpec(t, t.TempDir())
	img, err := ImageFor(mustBuild(t, spec), arm64)
	if err != nil {
		t.Fatal(err)
	}
	layers, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	if len(layers) != 2 {
		t.Fatalf("%d layers, want base and binary", len(layers))
	}
	for i, layer := range layers {
		if mt, _ := layer.MediaType(); mt != types.OCILayer {
			t.Errorf("layer %d: media type %q, want %q", i, mt, types.OCILayer)
		}
	}

	base := layerFiles(t, layers[0])
	byName := map[string]tarFile{}
	var names []string
	for _, f := range base {
		byName[f.header.Name] = f
		names = append(names, f.header.Name)
		if !f.header.ModTime.Equal(created) {
			t.Errorf("base /%s: mtime %s, want %s", f.header.Name, f.header.ModTime, created)
		}
		if f.header.Uname != "" || f.header.Gname != "" {
			t.Errorf("base /%s: owner names %q/%q, want none", f.header.Name, f.header.Uname, f.header.Gname)
		}
	}
	if !sort.StringsAreSorted(names) {
		t.Errorf("base layer entries not sorted: %v", names)
	}
	passwd := byName["etc/passwd"]
	if !strings.Contains(string(passwd.content), "nonroot:x:65532:65532:") || passwd.header.Uid != 0 || passwd.header.Mode != 0o644 {
		t.Errorf("/etc/passwd (uid %d, mode %o) = %q, want root-owned 0644 with nonroot uid 65532", passwd.header.Uid, passwd.header.Mode, passwd.content)
	}
	if !strings.Contains(string(byName["etc/group"].content), "nonroot:x:65532:") {
		t.Errorf("/etc/group = %q, want a nonroot group 65532", byName["etc/group"].content)
	}
	if _, ok := byName["etc/nsswitch.conf"]; !ok {
		t.Errorf("base layer has no /etc/nsswitch.conf: %v", names)
	}
	wantCA, err := os.ReadFile(spec.CACerts)
	if err != nil {
		t.Fatal(err)
	}
	if ca := byName["etc/ssl/certs/ca-certificates.crt"]; !bytes.Equal(ca.content, wantCA) {
		t.Errorf("CA bundle in image = %q, want the host file's %q", ca.content, wantCA)
	}
	if tmp, ok := byName["tmp/"]; !ok || tmp.header.Typeflag != '5' || tmp.header.Mode != 0o1777 {
		t.Errorf("/tmp = %+v, want a directory with mode 1777", tmp.header)
	}
	if home := byName["home/nonroot/"]; home.header.Uid != 65532 || home.header.Gid != 65532 {
		t.Errorf("/home/nonroot owned by %d:%d, want 65532:65532", home.header.Uid, home.header.Gid)
	}

	bin := layerFiles(t, layers[1])
	wantBin, err := os.ReadFile(spec.Binaries[0].Path) // the arm64 one
	if err != nil {
		t.Fatal(err)
	}
	if len(bin) != 1 || bin[0].header.Name != "loom" || bin[0].header.Mode != 0o755 ||
		bin[0].header.Uid != 0 || !bytes.Equal(bin[0].content, wantBin) {
		t.Fatalf("binary layer = %d entries, first %+v; want only /loom, mode 0755, root-owned, the arm64 binary", len(bin), bin[0].header)
	}
}

func TestBuildRejectsBadInput(t *testing.T) {
	dir := t.TempDir()
	dynamic := writeFile(t, dir, "dynamic", elfExecutable(t, elf.EM_X86_64, true, nil))
	script := writeFile(t, dir, "script", []byte("#!/bin/sh\n"))
	for name, tc := range map[string]struct {
		mutate func(*Spec)
		want   string
	}{
		"dynamic binary":    {func(s *Spec) { s.Binaries[1].Path = dynamic }, "dynamically linked"},
		"wrong arch":        {func(s *Spec) { s.Binaries[0].Platform = amd64; s.Binaries = s.Binaries[:1] }, "built for EM_AARCH64, not amd64"},
		"not ELF":           {func(s *Spec) { s.Binaries[1].Path = script }, "script"},
		"missing binary":    {func(s *Spec) { s.Binaries[1].Path = dir + "/nope" }, "nope"},
		"missing CA bundle": {func(s *Spec) { s.CACerts = dir + "/no-ca.crt" }, "ca-certificates.crt"},
		"no created time":   {func(s *Spec) { s.Created = created.AddDate(-100, 0, 0) }, "created time"},
		"same platform":     {func(s *Spec) { s.Binaries[0] = s.Binaries[1] }, "given twice"},
		"windows":           {func(s *Spec) { s.Binaries[0].Platform.OS = "windows" }, "only linux"},
		"bad name":          {func(s *Spec) { s.Name = "a/b" }, "name"},
	} {
		t.Run(name, func(t *testing.T) {
			spec := testSpec(t, t.TempDir())
			tc.mutate(&spec)
			_, err := Build(spec)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Build error %v, want one mentioning %q", err, tc.want)
			}
		})
	}
}

func TestParsePlatform(t *testing.T) {
	p, err := ParsePlatform("linux/arm64")
	if err != nil || p.OS != "linux" || p.Architecture != "arm64" {
		t.Errorf("ParsePlatform(linux/arm64) = %+v, %v", p, err)
	}
	for _, bad := range []string{"", "linux", "linux/", "/amd64", "linux/arm/v7"} {
		if _, err := ParsePlatform(bad); err == nil {
			t.Errorf("ParsePlatform(%q) accepted", bad)
		}
	}
}
