// Package bundle generates Loom's OLM bundle (a ClusterServiceVersion, the CRDs and the
// bundle annotations, registry+v1) and a file-based catalog that lists it, from the
// kustomize sources in config/ and the embedded charts' default images.
package bundle

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"

	operatorsv1alpha1 "github.com/operator-framework/api/pkg/operators/v1alpha1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/yaml"

	"loom.dev/loom/pkg/values"
)

// Options say what to generate from where.
type Options struct {
	// ConfigDir is the kustomize tree (config/).
	ConfigDir string
	// ChartsDir holds the charts the operator deploys (pkg/render/charts), for relatedImages.
	ChartsDir string
	// Version is the bundle's semantic version (no leading v).
	Version string
	// ImageRegistry (host[:port][/path]) is where the operator pulls Loom's images from:
	// the CSV's Deployment passes it to the operator (LOOM_IMAGE_REGISTRY), relatedImages
	// list Loom's images under it, and the operator and bundle images default to it.
	// Empty keeps Loom's images unqualified, as `loom operator` does.
	ImageRegistry string
	// OperatorImage replaces config/manager's "loom" image in the Deployment; empty means
	// <ImageRegistry>/loom:v<Version>.
	OperatorImage string
	// BundleImage is the bundle image the catalog points at; empty means
	// <ImageRegistry>/loom-operator-bundle:v<Version>.
	BundleImage string

	chartImages []operatorsv1alpha1.RelatedImage
}

// DefaultOptions are the committed bundle's: run from the repository root.
func DefaultOptions() Options {
	return Options{
		ConfigDir:     "config",
		ChartsDir:     filepath.Join("pkg", "render", "charts"),
		Version:       DefaultVersion,
		ImageRegistry: DefaultRegistry,
	}
}

// withDefaults checks the registry and fills the images left empty from it.
func (o Options) withDefaults() (Options, error) {
	if err := values.ValidateImageRegistry(o.ImageRegistry); err != nil {
		return o, fmt.Errorf("bundle: %w", err)
	}
	if o.OperatorImage == "" {
		o.OperatorImage = values.QualifyImage(o.ImageRegistry, values.DefaultImageRepository+":v"+o.Version)
	}
	if o.BundleImage == "" {
		o.BundleImage = values.QualifyImage(o.ImageRegistry, BundleRepository+":v"+o.Version)
	}
	return o, nil
}

// BundleRepository is the bundle image's repository under the image registry.
const BundleRepository = PackageName + "-bundle"

func (o Options) relatedImages() []operatorsv1alpha1.RelatedImage {
	images := []operatorsv1alpha1.RelatedImage{{Name: "operator", Image: o.OperatorImage}}
	for _, image := range o.chartImages {
		if image.Image != o.OperatorImage {
			images = append(images, image)
		}
	}
	return images
}

// Bundle directory layout (registry+v1).
const (
	ManifestsDir = "manifests"
	MetadataDir  = "metadata"
	// CSVFile is the ClusterServiceVersion's file name under manifests/.
	CSVFile = PackageName + ".clusterserviceversion.yaml"
)

// Annotations are the bundle's metadata/annotations.yaml, which the bundle image also
// carries as labels (what a bundle.Dockerfile's LABEL lines would say).
func Annotations() map[string]string {
	return map[string]string{
		"operators.operatorframework.io.bundle.mediatype.v1":       "registry+v1",
		"operators.operatorframework.io.bundle.manifests.v1":       ManifestsDir + "/",
		"operators.operatorframework.io.bundle.metadata.v1":        MetadataDir + "/",
		"operators.operatorframework.io.bundle.package.v1":         PackageName,
		"operators.operatorframework.io.bundle.channels.v1":        DefaultChannel,
		"operators.operatorframework.io.bundle.channel.default.v1": DefaultChannel,
	}
}

// Generate writes the bundle to bundleDir (manifests/, metadata/) and the catalog to
// catalogDir (<package>/catalog.yaml), replacing what those folders held.
func Generate(opts Options, bundleDir, catalogDir string) error {
	opts, err := opts.withDefaults()
	if err != nil {
		return err
	}
	src, err := loadSources(opts.ConfigDir)
	if err != nil {
		return err
	}
	opts.chartImages, err = chartImages(opts.ChartsDir, opts.ImageRegistry)
	if err != nil {
		return err
	}
	csv, err := buildCSV(src, opts)
	if err != nil {
		return err
	}
	csvObj, err := csvObject(csv)
	if err != nil {
		return err
	}
	files := map[string]any{
		filepath.Join(ManifestsDir, CSVFile):           csvObj,
		filepath.Join(MetadataDir, "annotations.yaml"): map[string]any{"annotations": Annotations()},
	}
	for _, crd := range src.crds {
		files[filepath.Join(ManifestsDir, crdFileName(crd))] = crd.Object
	}
	if err := writeTree(bundleDir, []string{ManifestsDir, MetadataDir}, files); err != nil {
		return err
	}
	return WriteCatalog(bundleDir, catalogDir, opts.BundleImage)
}

// csvObject drops what the Go types always marshal but a bundle leaves out: status,
// null creation timestamps, and empty or default blocks.
func csvObject(csv *operatorsv1alpha1.ClusterServiceVersion) (map[string]any, error) {
	obj, err := runtime.DefaultUnstructuredConverter.ToUnstructured(csv)
	if err != nil {
		return nil, fmt.Errorf("ClusterServiceVersion %s: %w", csv.Name, err)
	}
	delete(obj, "status")
	unstructured.RemoveNestedField(obj, "metadata", "creationTimestamp")
	unstructured.RemoveNestedField(obj, "spec", "apiservicedefinitions")
	unstructured.RemoveNestedField(obj, "spec", "cleanup")
	deployments, _, _ := unstructured.NestedSlice(obj, "spec", "install", "spec", "deployments")
	for _, d := range deployments {
		unstructured.RemoveNestedField(d.(map[string]any), "spec", "template", "metadata", "creationTimestamp")
	}
	if err := unstructured.SetNestedSlice(obj, deployments, "spec", "install", "spec", "deployments"); err != nil {
		return nil, err
	}
	return obj, nil
}

// crdFileName follows operator-sdk's naming: <group>_<plural>.yaml.
func crdFileName(crd *unstructured.Unstructured) string {
	group, _, _ := unstructured.NestedString(crd.Object, "spec", "group")
	plural, _, _ := unstructured.NestedString(crd.Object, "spec", "names", "plural")
	return group + "_" + plural + ".yaml"
}

// writeTree empties the managed subdirectories of root, then writes each object as YAML.
func writeTree(root string, managed []string, files map[string]any) error {
	for _, dir := range managed {
		if err := os.RemoveAll(filepath.Join(root, dir)); err != nil {
			return err
		}
	}
	paths := make([]string, 0, len(files))
	for p := range files {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	for _, p := range paths {
		data, err := yaml.Marshal(files[p])
		if err != nil {
			return fmt.Errorf("bundle file %s: %w", p, err)
		}
		full := filepath.Join(root, p)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(full, data, 0o644); err != nil {
			return err
		}
	}
	return nil
}
