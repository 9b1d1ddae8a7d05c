package istiocrds

import (
	"fmt"
	"strings"

	"google.golang.org/protobuf/proto"
	networking "istio.io/api/networking/v1alpha3"
	security "istio.io/api/security/v1beta1"
	telemetry "istio.io/api/telemetry/v1alpha1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/utils/ptr"

	"loom.dev/loom/pkg/loomcrds"
)

// Label marks the CRDs Loom installed; the operator never touches an Istio CRD without it.
const Label = "operator.loom.dev/istio-crds"

type kind struct {
	group, kind, plural string
	shortNames          []string
	spec                proto.Message
}

var (
	networkingVersions = []string{"v1", "v1beta1", "v1alpha3"}
	securityVersions   = []string{"v1", "v1beta1"}
	telemetryVersions  = []string{"v1", "v1alpha1"}
)

// kinds are the Istio APIs Loom serves. Every version shares one schema and v1 is stored,
// as in Istio's own CRDs, so that objects written by Istio read back unchanged.
var kinds = []kind{
	{"networking.istio.io", "VirtualService", "virtualservices", []string{"vs"}, &networking.VirtualService{}},
	{"networking.istio.io", "DestinationRule", "destinationrules", []string{"dr"}, &networking.DestinationRule{}},
	{"networking.istio.io", "Gateway", "gateways", []string{"gw"}, &networking.Gateway{}},
	{"networking.istio.io", "ServiceEntry", "serviceentries", []string{"se"}, &networking.ServiceEntry{}},
	{"networking.istio.io", "WorkloadEntry", "workloadentries", []string{"we"}, &networking.WorkloadEntry{}},
	{"networking.istio.io", "WorkloadGroup", "workloadgroups", []string{"wg"}, &networking.WorkloadGroup{}},
	{"networking.istio.io", "Sidecar", "sidecars", nil, &networking.Sidecar{}},
	{"security.istio.io", "PeerAuthentication", "peerauthentications", []string{"pa"}, &security.PeerAuthentication{}},
	{"security.istio.io", "AuthorizationPolicy", "authorizationpolicies", []string{"ap"}, &security.AuthorizationPolicy{}},
	{"security.istio.io", "RequestAuthentication", "requestauthentications", []string{"ra"}, &security.RequestAuthentication{}},
	{"telemetry.istio.io", "Telemetry", "telemetries", []string{"telemetry"}, &telemetry.Telemetry{}},
}

// CRDs builds every Istio CRD Loom installs.
func CRDs() []*apiextensionsv1.CustomResourceDefinition {
	crds := make([]*apiextensionsv1.CustomResourceDefinition, 0, len(kinds))
	for _, k := range kinds {
		crds = append(crds, k.crd())
	}
	return crds
}

// Objects returns the CRDs as unstructured objects, ready to apply: Istio's,
// then Loom's own mesh APIs (pkg/loomcrds), which are installed and owned
// the same way.
func Objects() ([]*unstructured.Unstructured, error) {
	loom, err := loomcrds.CRDs()
	if err != nil {
		return nil, err
	}
	for _, crd := range loom {
		crd.Labels = map[string]string{Label: "true", "app.kubernetes.io/part-of": "loom"}
	}
	var objs []*unstructured.Unstructured
	for _, crd := range append(CRDs(), loom...) {
		m, err := runtime.DefaultUnstructuredConverter.ToUnstructured(crd)
		if err != nil {
			return nil, fmt.Errorf("converting CRD %s: %w", crd.Name, err)
		}
		u := &unstructured.Unstructured{Object: m}
		// The converter writes an empty status; an applied CRD must not claim one.
		delete(u.Object, "status")
		objs = append(objs, u)
	}
	return objs, nil
}

func (k kind) crd() *apiextensionsv1.CustomResourceDefinition {
	spec := schemaOf(k.spec.ProtoReflect().Descriptor())
	spec.Description = fmt.Sprintf("Spec of the %s, as defined by istio.io/api.", k.kind)
	root := apiextensionsv1.JSONSchemaProps{
		Type: "object",
		Properties: map[string]apiextensionsv1.JSONSchemaProps{
			"spec":   spec,
			"status": {Type: "object", XPreserveUnknownFields: ptr.To(true)},
		},
	}
	versionNames := networkingVersions
	categories := []string{"istio-io", "networking-istio-io"}
	switch k.group {
	case "security.istio.io":
		versionNames = securityVersions
		categories = []string{"istio-io", "security-istio-io"}
	case "telemetry.istio.io":
		versionNames = telemetryVersions
		categories = []string{"istio-io", "telemetry-istio-io"}
	}
	var versions []apiextensionsv1.CustomResourceDefinitionVersion
	for i, v := range versionNames {
		versions = append(versions, apiextensionsv1.CustomResourceDefinitionVersion{
			Name:                     v,
			Served:                   true,
			Storage:                  i == 0,
			Schema:                   &apiextensionsv1.CustomResourceValidation{OpenAPIV3Schema: root.DeepCopy()},
			Subresources:             &apiextensionsv1.CustomResourceSubresources{Status: &apiextensionsv1.CustomResourceSubresourceStatus{}},
			AdditionalPrinterColumns: printerColumns(k.kind),
		})
	}
	return &apiextensionsv1.CustomResourceDefinition{
		TypeMeta: metav1.TypeMeta{APIVersion: "apiextensions.k8s.io/v1", Kind: "CustomResourceDefinition"},
		ObjectMeta: metav1.ObjectMeta{
			Name:   k.plural + "." + k.group,
			Labels: map[string]string{Label: "true", "app.kubernetes.io/part-of": "loom"},
		},
		Spec: apiextensionsv1.CustomResourceDefinitionSpec{
			Group: k.group,
			Names: apiextensionsv1.CustomResourceDefinitionNames{
				Kind:       k.kind,
				ListKind:   k.kind + "List",
				Plural:     k.plural,
				Singular:   strings.ToLower(k.kind),
				ShortNames: k.shortNames,
				Categories: categories,
			},
			Scope:    apiextensionsv1.NamespaceScoped,
			Versions: versions,
		},
	}
}

func printerColumns(kind string) []apiextensionsv1.CustomResourceColumnDefinition {
	age := apiextensionsv1.CustomResourceColumnDefinition{Name: "Age", Type: "date", JSONPath: ".metadata.creationTimestamp"}
	switch kind {
	case "VirtualService":
		return []apiextensionsv1.CustomResourceColumnDefinition{
			{Name: "Gateways", Type: "string", JSONPath: ".spec.gateways"},
			{Name: "Hosts", Type: "string", JSONPath: ".spec.hosts"}, age}
	case "DestinationRule":
		return []apiextensionsv1.CustomResourceColumnDefinition{{Name: "Host", Type: "string", JSONPath: ".spec.host"}, age}
	case "ServiceEntry":
		return []apiextensionsv1.CustomResourceColumnDefinition{
			{Name: "Hosts", Type: "string", JSONPath: ".spec.hosts"},
			{Name: "Location", Type: "string", JSONPath: ".spec.location"},
			{Name: "Resolution", Type: "string", JSONPath: ".spec.resolution"}, age}
	case "PeerAuthentication":
		return []apiextensionsv1.CustomResourceColumnDefinition{{Name: "Mode", Type: "string", JSONPath: ".spec.mtls.mode"}, age}
	case "AuthorizationPolicy":
		return []apiextensionsv1.CustomResourceColumnDefinition{{Name: "Action", Type: "string", JSONPath: ".spec.action"}, age}
	}
	return []apiextensionsv1.CustomResourceColumnDefinition{age}
}
