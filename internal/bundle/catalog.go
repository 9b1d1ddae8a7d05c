package bundle

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"

	operatorsv1alpha1 "github.com/operator-framework/api/pkg/operators/v1alpha1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
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

func catalogDocuments(csv *operatorsv1alpha1.ClusterServiceVersion, crds []*unstructured.Unstructured, bundleImage string) ([]any, error) {
	if bundleImage == "" {
		return nil, fmt.Errorf("catalog: no bundle image given")
	}
	version := csv.Spec.Version.String()
	properties := []fbcProperty{{Type: "olm.package", Value: map[string]string{"packageName": PackageName, "version": version}}}
	for _, crd := range crds {
		group, _, _ := unstructured.NestedString(crd.Object, "spec", "group")
		kind, _, _ := unstructured.NestedString(crd.Object, "spec", "names", "kind")
		versions, _, _ := unstructured.NestedSlice(crd.Object, "spec", "versions")
		for _, v := range versions {
			name, _ := v.(map[string]any)["name"].(string)
			properties = append(properties, fbcProperty{Type: "olm.gvk", Value: map[string]string{"group": group, "kind": kind, "version": name}})
		}
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
