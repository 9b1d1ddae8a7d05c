package bundle

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"sort"

	"github.com/operator-framework/api/pkg/manifests"
	operatorsv1alpha1 "github.com/operator-framework/api/pkg/operators/v1alpha1"
	"sigs.k8s.io/yaml"
)

// CatalogFile is the package's file-based catalog under the catalog folder.
var CatalogFile = filepath.Join(PackageName, "catalog.yaml")

// The file-based catalog's documents (olm.package, olm.channel, olm.bundle), as `opm
// render` would write them for the bundle image.
type fbcPackage struct {
	Schema         string   `json:"schema"`
	Name           string   `json:"name"`
	DefaultChannel string   `json:"defaultChannel"`
	Icon           *fbcIcon `json:"icon,omitempty"`
	Description    string   `json:"description,omitempty"`
}

type fbcIcon struct {
	Data      string `json:"base64data"`
	MediaType string `json:"mediatype"`
}

type fbcChannel struct {
	Schema  string            `json:"schema"`
	Name    string            `json:"name"`
	Package string            `json:"package"`
	Entries []fbcChannelEntry `json:"entries"`
}

type fbcChannelEntry struct {
	Name     string `json:"name"`
	Replaces string `json:"replaces,omitempty"`
}

type fbcBundle struct {
	Schema        string                           `json:"schema"`
	Name          string                           `json:"name"`
	Package       string                           `json:"package"`
	Image         string                           `json:"image"`
	Properties    []fbcProperty                    `json:"properties"`
	RelatedImages []operatorsv1alpha1.RelatedImage `json:"relatedImages,omitempty"`
}

type fbcProperty struct {
	Type  string `json:"type"`
	Value any    `json:"value"`
}

// csvMetadata is the olm.csv.metadata property: what the console shows before install.
type csvMetadata struct {
	Annotations               map[string]string                           `json:"annotations,omitempty"`
	CustomResourceDefinitions operatorsv1alpha1.CustomResourceDefinitions `json:"crdDescriptions,omitempty"`
	Description               string                                      `json:"description,omitempty"`
	DisplayName               string                                      `json:"displayName,omitempty"`
	InstallModes              []operatorsv1alpha1.InstallMode             `json:"installModes,omitempty"`
	Keywords                  []string                                    `json:"keywords,omitempty"`
	Links                     []operatorsv1alpha1.AppLink                 `json:"links,omitempty"`
	Maintainers               []operatorsv1alpha1.Maintainer              `json:"maintainers,omitempty"`
	Maturity                  string                                      `json:"maturity,omitempty"`
	MinKubeVersion            string                                      `json:"minKubeVersion,omitempty"`
	Provider                  operatorsv1alpha1.AppLink                   `json:"provider,omitempty"`
}

// WriteCatalog renders the file-based catalog of the bundle in bundleDir (as `opm render`
// renders a bundle image: its package, GVKs and CSV metadata as properties) and replaces
// the package's folder under catalogDir with it. bundleImage is the reference the catalog
// gives OLM to pull the bundle from: a tag, or a digest to pin it.
func WriteCatalog(bundleDir, catalogDir, bundleImage string) error {
	b, err := manifests.GetBundleFromDir(bundleDir)
	if err != nil {
		return fmt.Errorf("catalog: bundle %s: %w", bundleDir, err)
	}
	if b.CSV == nil {
		return fmt.Errorf("catalog: bundle %s has no ClusterServiceVersion", bundleDir)
	}
	if b.Package != PackageName {
		return fmt.Errorf("catalog: bundle %s is of package %q; want %q", bundleDir, b.Package, PackageName)
	}
	var gvks []map[string]string
	for _, crd := range b.V1CRDs {
		for _, v := range crd.Spec.Versions {
			gvks = append(gvks, map[string]string{"group": crd.Spec.Group, "kind": crd.Spec.Names.Kind, "version": v.Name})
		}
	}
	sort.Slice(gvks, func(i, j int) bool {
		a, b := gvks[i], gvks[j]
		return a["group"]+"/"+a["kind"]+"/"+a["version"] < b["group"]+"/"+b["kind"]+"/"+b["version"]
	})
	documents, err := catalogDocuments(b.CSV, gvks, bundleImage)
	if err != nil {
		return err
	}
	return writeCatalog(catalogDir, documents)
}

func catalogDocuments(csv *operatorsv1alpha1.ClusterServiceVersion, gvks []map[string]string, bundleImage string) ([]any, error) {
	if bundleImage == "" {
		return nil, fmt.Errorf("catalog: no bundle image given")
	}
	if len(csv.Spec.Icon) == 0 {
		return nil, fmt.Errorf("catalog: ClusterServiceVersion %s: spec.icon is empty", csv.Name)
	}
	version := csv.Spec.Version.String()
	properties := []fbcProperty{{Type: "olm.package", Value: map[string]string{"packageName": PackageName, "version": version}}}
	for _, gvk := range gvks {
		properties = append(properties, fbcProperty{Type: "olm.gvk", Value: gvk})
	}
	properties = append(properties, fbcProperty{Type: "olm.csv.metadata", Value: csvMetadata{
		Annotations:               csv.Annotations,
		CustomResourceDefinitions: csv.Spec.CustomResourceDefinitions,
		Description:               csv.Spec.Description,
		DisplayName:               csv.Spec.DisplayName,
		InstallModes:              csv.Spec.InstallModes,
		Keywords:                  csv.Spec.Keywords,
		Links:                     csv.Spec.Links,
		Maintainers:               csv.Spec.Maintainers,
		Maturity:                  csv.Spec.Maturity,
		MinKubeVersion:            csv.Spec.MinKubeVersion,
		Provider:                  csv.Spec.Provider,
	}})
	related := append([]operatorsv1alpha1.RelatedImage{{Name: "bundle", Image: bundleImage}}, csv.Spec.RelatedImages...)
	return []any{
		fbcPackage{
			Schema:         "olm.package",
			Name:           PackageName,
			DefaultChannel: DefaultChannel,
			Icon:           &fbcIcon{Data: csv.Spec.Icon[0].Data, MediaType: csv.Spec.Icon[0].MediaType},
			Description:    shortDescription,
		},
		fbcChannel{Schema: "olm.channel", Name: DefaultChannel, Package: PackageName, Entries: []fbcChannelEntry{{Name: csv.Name}}},
		fbcBundle{Schema: "olm.bundle", Name: csv.Name, Package: PackageName, Image: bundleImage, Properties: properties, RelatedImages: related},
	}, nil
}

// writeCatalog replaces the package's folder under dir with one multi-document YAML file.
func writeCatalog(dir string, documents []any) error {
	var out bytes.Buffer
	for _, doc := range documents {
		data, err := yaml.Marshal(doc)
		if err != nil {
			return fmt.Errorf("catalog: %w", err)
		}
		out.WriteString("---\n")
		out.Write(data)
	}
	pkgDir := filepath.Join(dir, PackageName)
	if err := os.RemoveAll(pkgDir); err != nil {
		return err
	}
	if err := os.MkdirAll(pkgDir, 0o755); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, CatalogFile), out.Bytes(), 0o644)
}
