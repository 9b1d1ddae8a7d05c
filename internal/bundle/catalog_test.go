package bundle

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/operator-framework/operator-registry/alpha/declcfg"
)

// loadCatalog parses dir with operator-registry's file-based catalog loader and checks
// the model it builds (channels, bundle versions, package properties), as opm validate does.
func loadCatalog(dir string) (*declcfg.DeclarativeConfig, error) {
	cfg, err := declcfg.LoadFS(context.Background(), os.DirFS(dir))
	if err != nil {
		return nil, err
	}
	m, err := declcfg.ConvertToModel(*cfg)
	if err != nil {
		return nil, err
	}
	return cfg, m.Validate()
}

// The catalog `make bundle` writes names the bundle by tag; `make catalog`
// (internal/catalog) pins it by digest and checks the committed one.
func TestCatalogParsesWithDeclcfg(t *testing.T) {
	_, catalogDir := generated(t)
	cfg, err := loadCatalog(catalogDir)
	if err != nil {
		t.Fatalf("generated catalog: %v", err)
	}
	if len(cfg.Packages) != 1 || cfg.Packages[0].Name != PackageName || cfg.Packages[0].DefaultChannel != DefaultChannel {
		t.Fatalf("packages %+v; want %s with default channel %s", cfg.Packages, PackageName, DefaultChannel)
	}
	if len(cfg.Bundles) != 1 {
		t.Fatalf("%d bundles; want 1", len(cfg.Bundles))
	}
	b := cfg.Bundles[0]
	wantImage := DefaultRegistry + "/" + BundleRepository + ":v" + DefaultVersion
	if b.Name != csvName(DefaultVersion) || b.Image != wantImage {
		t.Errorf("bundle %s image %s; want %s, %s", b.Name, b.Image, csvName(DefaultVersion), wantImage)
	}
	var gvks int
	for _, p := range b.Properties {
		if p.Type == "olm.gvk" {
			gvks++
		}
	}
	if gvks != 2 {
		t.Errorf("bundle lists %d olm.gvk properties; want one per CRD (2)", gvks)
	}
}

func TestCatalogLoaderRefusesABrokenCatalog(t *testing.T) {
	_, catalogDir := generated(t)
	path := filepath.Join(catalogDir, CatalogFile)
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	// The channel lists a bundle the catalog does not have.
	broken := strings.Replace(string(data), "- name: "+csvName(DefaultVersion)+"\n", "- name: "+PackageName+".v9.9.9\n", 1)
	if broken == string(data) {
		t.Fatal("the test's edit did not apply to the generated catalog")
	}
	if err := os.WriteFile(path, []byte(broken), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := loadCatalog(catalogDir); err == nil {
		t.Fatal("a channel entry without a bundle passed declcfg's model validation")
	}
}
