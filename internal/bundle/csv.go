package bundle

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"

	operatorsv1alpha1 "github.com/operator-framework/api/pkg/operators/v1alpha1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
)

// operatorImageName is the image name config/manager's Deployment uses (kustomize's
// `images` entry rewrites it); the bundle points it at Options.OperatorImage.
const operatorImageName = "loom"

// ImageRegistryEnv is the operator's --image-registry default (internal/cli's
// ImageRegistryEnv), which config/manager declares and the bundle sets to
// Options.ImageRegistry.
const ImageRegistryEnv = "LOOM_IMAGE_REGISTRY"

func csvName(version string) string { return PackageName + ".v" + version }

func buildCSV(src *sources, opts Options) (*operatorsv1alpha1.ClusterServiceVersion, error) {
	ver, err := operatorVersion(opts.Version)
	if err != nil {
		return nil, fmt.Errorf("bundle version %q: %w", opts.Version, err)
	}
	examples, err := almExamples(src.samples)
	if err != nil {
		return nil, err
	}
	owned, internal, err := ownedCRDs(src.crds)
	if err != nil {
		return nil, err
	}
	deployment, err := deploymentSpec(src.deployment, opts.OperatorImage, opts.ImageRegistry)
	if err != nil {
		return nil, err
	}
	clusterRules, err := rules(src.clusterRole)
	if err != nil {
		return nil, err
	}
	var namespaced []rbacv1.PolicyRule
	for _, role := range src.roles {
		r, err := rules(role)
		if err != nil {
			return nil, err
		}
		namespaced = append(namespaced, r...)
	}
	internalJSON, _ := json.Marshal(internal)

	csv := &operatorsv1alpha1.ClusterServiceVersion{
		TypeMeta: metav1.TypeMeta{APIVersion: operatorsv1alpha1.SchemeGroupVersion.String(), Kind: operatorsv1alpha1.ClusterServiceVersionKind},
		ObjectMeta: metav1.ObjectMeta{
			Name: csvName(opts.Version),
			Annotations: map[string]string{
				"alm-examples":   examples,
				"capabilities":   capabilities,
				"categories":     categories,
				"containerImage": opts.OperatorImage,
				"description":    shortDescription,
				"repository":     repository,
				"support":        provider.Name,
				"operatorframework.io/suggested-namespace":        suggestedNS,
				"operators.operatorframework.io/internal-objects": string(internalJSON),
				// The operator itself serves no webhook (the control plane's are created by
				// the operator) and needs no cloud credentials.
				"features.operators.openshift.io/disconnected":     "false",
				"features.operators.openshift.io/fips-compliant":   "false",
				"features.operators.openshift.io/proxy-aware":      "false",
				"features.operators.openshift.io/tls-profiles":     "false",
				"features.operators.openshift.io/token-auth-aws":   "false",
				"features.operators.openshift.io/token-auth-azure": "false",
				"features.operators.openshift.io/token-auth-gcp":   "false",
				"features.operators.openshift.io/cnf":              "false",
				"features.operators.openshift.io/cni":              "false",
				"features.operators.openshift.io/csi":              "false",
			},
		},
		Spec: operatorsv1alpha1.ClusterServiceVersionSpec{
			DisplayName:    displayName,
			Description:    description,
			Keywords:       keywords,
			Maintainers:    maintainers,
			Provider:       provider,
			Links:          links,
			Icon:           icon(),
			Version:        ver,
			MinKubeVersion: minKubeVersion,
			Maturity:       "alpha",
			InstallModes: []operatorsv1alpha1.InstallMode{
				{Type: operatorsv1alpha1.InstallModeTypeOwnNamespace, Supported: false},
				{Type: operatorsv1alpha1.InstallModeTypeSingleNamespace, Supported: false},
				{Type: operatorsv1alpha1.InstallModeTypeMultiNamespace, Supported: false},
				{Type: operatorsv1alpha1.InstallModeTypeAllNamespaces, Supported: true},
			},
			CustomResourceDefinitions: operatorsv1alpha1.CustomResourceDefinitions{Owned: owned},
			InstallStrategy: operatorsv1alpha1.NamedInstallStrategy{
				StrategyName: operatorsv1alpha1.InstallStrategyNameDeployment,
				StrategySpec: operatorsv1alpha1.StrategyDetailsDeployment{
					DeploymentSpecs: []operatorsv1alpha1.StrategyDeploymentSpec{deployment},
					ClusterPermissions: []operatorsv1alpha1.StrategyDeploymentPermissions{
						{ServiceAccountName: src.serviceAcct, Rules: clusterRules},
					},
					Permissions: []operatorsv1alpha1.StrategyDeploymentPermissions{
						{ServiceAccountName: src.serviceAcct, Rules: namespaced},
					},
				},
			},
			RelatedImages: opts.relatedImages(),
		},
	}
	if len(namespaced) == 0 {
		csv.Spec.InstallStrategy.StrategySpec.Permissions = nil
	}
	return csv, nil
}

// almExamples is the samples as the JSON array the console offers as templates.
func almExamples(samples []*unstructured.Unstructured) (string, error) {
	objects := make([]map[string]any, 0, len(samples))
	for _, s := range samples {
		obj := s.DeepCopy()
		// Samples carry no status, namespace (the CRDs are cluster-scoped) or comments.
		delete(obj.Object, "status")
		objects = append(objects, obj.Object)
	}
	data, err := json.MarshalIndent(objects, "", "  ")
	if err != nil {
		return "", fmt.Errorf("alm-examples: %w", err)
	}
	return string(data), nil
}

// ownedCRDs describes each CRD's served storage version; CRDs without descriptors (the
// operator's own records) are listed as internal objects, hidden in the console.
func ownedCRDs(crds []*unstructured.Unstructured) ([]operatorsv1alpha1.CRDDescription, []string, error) {
	var owned []operatorsv1alpha1.CRDDescription
	var internal []string
	for _, crd := range crds {
		kind, _, _ := unstructured.NestedString(crd.Object, "spec", "names", "kind")
		version, err := storageVersion(crd)
		if err != nil {
			return nil, nil, err
		}
		schema, err := versionSchema(crd, version)
		if err != nil {
			return nil, nil, err
		}
		doc, _ := schema["description"].(string)
		d := operatorsv1alpha1.CRDDescription{
			Name:        crd.GetName(),
			Version:     version,
			Kind:        kind,
			DisplayName: splitCamel(kind),
			Description: firstSentence(doc),
		}
		if d.Description == "" {
			return nil, nil, fmt.Errorf("CRD %s %s: the schema has no description (the kind's Go doc comment)", crd.GetName(), version)
		}
		if kind == "MeshOperator" {
			d.Resources = ownedResources
		}
		for _, desc := range specDescriptors[kind] {
			text, x, err := fieldDescriptor(crd, version, "spec", desc)
			if err != nil {
				return nil, nil, err
			}
			d.SpecDescriptors = append(d.SpecDescriptors, operatorsv1alpha1.SpecDescriptor{Path: desc.path, DisplayName: desc.displayName, Description: text, XDescriptors: x})
		}
		for _, desc := range statusDescriptors[kind] {
			text, x, err := fieldDescriptor(crd, version, "status", desc)
			if err != nil {
				return nil, nil, err
			}
			d.StatusDescriptors = append(d.StatusDescriptors, operatorsv1alpha1.StatusDescriptor{Path: desc.path, DisplayName: desc.displayName, Description: text, XDescriptors: x})
		}
		if _, public := specDescriptors[kind]; !public {
			internal = append(internal, crd.GetName())
		}
		owned = append(owned, d)
	}
	sort.Slice(owned, func(i, j int) bool { return owned[i].Name < owned[j].Name })
	sort.Strings(internal)
	return owned, internal, nil
}

// ownedResources are the kinds a MeshOperator creates, for the console's resources tab.
var ownedResources = []operatorsv1alpha1.APIResourceReference{
	{Name: "meshrevisions", Kind: "MeshRevision", Version: "v1alpha1"},
	{Kind: "Deployment", Version: "v1"},
	{Kind: "Service", Version: "v1"},
	{Kind: "ConfigMap", Version: "v1"},
	{Kind: "Secret", Version: "v1"},
	{Kind: "ServiceAccount", Version: "v1"},
	{Kind: "HorizontalPodAutoscaler", Version: "v2"},
	{Kind: "PodDisruptionBudget", Version: "v1"},
	{Kind: "MutatingWebhookConfiguration", Version: "v1"},
	{Kind: "ValidatingWebhookConfiguration", Version: "v1"},
	{Kind: "CustomResourceDefinition", Version: "v1"},
}

func storageVersion(crd *unstructured.Unstructured) (string, error) {
	versions, _, _ := unstructured.NestedSlice(crd.Object, "spec", "versions")
	for _, v := range versions {
		vm, _ := v.(map[string]any)
		if storage, _ := vm["storage"].(bool); storage {
			name, _ := vm["name"].(string)
			return name, nil
		}
	}
	return "", fmt.Errorf("CRD %s: no storage version", crd.GetName())
}

// splitCamel turns MeshOperator into "Mesh Operator".
func splitCamel(s string) string {
	var b strings.Builder
	for i, r := range s {
		if i > 0 && r >= 'A' && r <= 'Z' {
			b.WriteByte(' ')
		}
		b.WriteRune(r)
	}
	return b.String()
}

// deploymentSpec is config/manager's Deployment running image, with the operator's image
// registry setting (declared in config/manager) set to registry.
func deploymentSpec(obj *unstructured.Unstructured, image, registry string) (operatorsv1alpha1.StrategyDeploymentSpec, error) {
	var d appsv1.Deployment
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(obj.Object, &d); err != nil {
		return operatorsv1alpha1.StrategyDeploymentSpec{}, fmt.Errorf("config/manager: Deployment %s: %w", obj.GetName(), err)
	}
	replaced := false
	for i := range d.Spec.Template.Spec.Containers {
		c := &d.Spec.Template.Spec.Containers[i]
		if c.Image != operatorImageName && !strings.HasPrefix(c.Image, operatorImageName+":") {
			continue
		}
		c.Image, replaced = image, true
		if !setEnv(c.Env, ImageRegistryEnv, registry) {
			return operatorsv1alpha1.StrategyDeploymentSpec{}, fmt.Errorf("config/manager: Deployment %s: container %s: no env %s to carry the image registry", obj.GetName(), c.Name, ImageRegistryEnv)
		}
	}
	if !replaced {
		return operatorsv1alpha1.StrategyDeploymentSpec{}, fmt.Errorf("config/manager: Deployment %s: no container runs image %q", obj.GetName(), operatorImageName)
	}
	return operatorsv1alpha1.StrategyDeploymentSpec{Name: d.Name, Spec: d.Spec, Label: d.Labels}, nil
}

// setEnv sets the value of env's variable name, telling whether it was there.
func setEnv(env []corev1.EnvVar, name, value string) bool {
	for i := range env {
		if env[i].Name == name {
			env[i].Value, env[i].ValueFrom = value, nil
			return true
		}
	}
	return false
}

func rules(obj *unstructured.Unstructured) ([]rbacv1.PolicyRule, error) {
	var role rbacv1.ClusterRole // a Role's rules decode the same way
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(obj.Object, &role); err != nil {
		return nil, fmt.Errorf("config/rbac: %s %s: %w", obj.GetKind(), obj.GetName(), err)
	}
	return role.Rules, nil
}
