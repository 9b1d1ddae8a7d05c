package bundle

import (
	"fmt"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// descriptor is one field the OpenShift console shows on a custom resource's form or
// details page; its description comes from the CRD schema, so it cannot drift from the API.
type descriptor struct {
	path         string // below spec or status, dotted
	displayName  string
	xDescriptors []string
	// selectEnum adds a select x-descriptor per value of the field's schema enum.
	selectEnum bool
}

const (
	xText      = "urn:alm:descriptor:com.tectonic.ui:text"
	xNumber    = "urn:alm:descriptor:com.tectonic.ui:number"
	xBoolean   = "urn:alm:descriptor:com.tectonic.ui:booleanSwitch"
	xNamespace = "urn:alm:descriptor:io.kubernetes:Namespace"
	xResources = "urn:alm:descriptor:com.tectonic.ui:resourceRequirements"
	xNodeSel   = "urn:alm:descriptor:com.tectonic.ui:nodeSelector"
	xAdvanced  = "urn:alm:descriptor:com.tectonic.ui:advanced"
	xConds     = "urn:alm:descriptor:io.kubernetes.conditions"
	xSecret    = "urn:alm:descriptor:io.kubernetes:Secret"
)

func xSelect(values []string) []string {
	out := make([]string, len(values))
	for i, v := range values {
		out[i] = "urn:alm:descriptor:com.tectonic.ui:select:" + v
	}
	return out
}

func xFieldDependency(path, value string) string {
	return "urn:alm:descriptor:com.tectonic.ui:fieldDependency:" + path + ":" + value
}

// descriptors per CRD kind: the fields a user sets on a form and reads on a details page.
var specDescriptors = map[string][]descriptor{
	"MeshOperator": {
		{"profile", "Profile", nil, true},
		{"version", "Version", nil, true},
		{"namespace", "Namespace", []string{xNamespace}, false},
		{"controlPlane.replicas", "Control plane replicas", []string{xNumber}, false},
		{"controlPlane.resources", "Control plane resources", []string{xResources}, false},
		{"controlPlane.autoscaling.enabled", "Control plane autoscaling", []string{xBoolean}, false},
		{"controlPlane.nodeSelector", "Control plane node selector", []string{xNodeSel, xAdvanced}, false},
		{"controlPlane.logLevel", "Control plane log level", []string{xAdvanced}, true},
		{"security.ca.mode", "CA mode", nil, true},
		{"addons.prometheus.enabled", "Prometheus", []string{xBoolean}, false},
		{"addons.grafana.enabled", "Grafana", []string{xBoolean}, false},
		{"addons.grafana.adminCredentialsSecretRef.name", "Grafana admin credentials", []string{xSecret, xFieldDependency("addons.grafana.enabled", "true")}, false},
		{"addons.jaeger.enabled", "Jaeger", []string{xBoolean}, false},
		{"updateStrategy.type", "Update strategy", nil, true},
		{"updateStrategy.readinessTimeout", "Readiness timeout", []string{xText, xAdvanced}, false},
		{"updateStrategy.revisionGracePeriod", "Revision grace period", []string{xText, xAdvanced, xFieldDependency("updateStrategy.type", "RevisionBased")}, false},
	},
}

var statusDescriptors = map[string][]descriptor{
	"MeshOperator": {
		{"conditions", "Conditions", []string{xConds}, false},
		{"version", "Version", []string{xText}, false},
		{"revision", "Revision", []string{xText}, false},
		{"revisions", "Revisions", nil, false},
		{"components", "Components", nil, false},
		{"ca.mode", "CA mode", []string{xText}, false},
		{"ca.rootExpiresAt", "Root certificate expires", []string{xText}, false},
	},
	"MeshRevision": {
		{"conditions", "Conditions", []string{xConds}, false},
		{"namespaces", "Namespaces", []string{xNumber}, false},
		{"workloads", "Workloads", []string{xNumber}, false},
	},
}

// schemaField returns the schema of spec.<path> or status.<path> in crd's version, or an
// error naming the path when the schema has no such field.
func schemaField(crd *unstructured.Unstructured, version, root, path string) (map[string]any, error) {
	schema, err := versionSchema(crd, version)
	if err != nil {
		return nil, err
	}
	node := schema
	for _, field := range append([]string{root}, strings.Split(path, ".")...) {
		if items, ok := node["items"].(map[string]any); ok && node["type"] == "array" {
			node = items
		}
		properties, _ := node["properties"].(map[string]any)
		next, ok := properties[field].(map[string]any)
		if !ok {
			return nil, fmt.Errorf("CRD %s %s: descriptor path %s.%s: no field %q in the schema", crd.GetName(), version, root, path, field)
		}
		node = next
	}
	return node, nil
}

// fieldDescriptor fills in d's description (and select values) from the schema.
func fieldDescriptor(crd *unstructured.Unstructured, version, root string, d descriptor) (description string, xDescriptors []string, err error) {
	field, err := schemaField(crd, version, root, d.path)
	if err != nil {
		return "", nil, err
	}
	description, _ = field["description"].(string)
	xDescriptors = append(xDescriptors, d.xDescriptors...)
	if d.selectEnum {
		enum, _ := field["enum"].([]any)
		if len(enum) == 0 {
			return "", nil, fmt.Errorf("CRD %s %s: descriptor path %s.%s: a select needs an enum in the schema", crd.GetName(), version, root, d.path)
		}
		values := make([]string, 0, len(enum))
		for _, v := range enum {
			values = append(values, fmt.Sprint(v))
		}
		xDescriptors = append(xSelect(values), xDescriptors...)
	}
	return firstSentence(description), xDescriptors, nil
}

func versionSchema(crd *unstructured.Unstructured, version string) (map[string]any, error) {
	versions, _, _ := unstructured.NestedSlice(crd.Object, "spec", "versions")
	for _, v := range versions {
		vm, _ := v.(map[string]any)
		if vm["name"] != version {
			continue
		}
		schema, found, err := unstructured.NestedMap(vm, "schema", "openAPIV3Schema")
		if err != nil || !found {
			return nil, fmt.Errorf("CRD %s %s: no openAPIV3Schema", crd.GetName(), version)
		}
		return schema, nil
	}
	return nil, fmt.Errorf("CRD %s: no version %s", crd.GetName(), version)
}

// firstSentence keeps the console's tooltips short: the schema's descriptions run on.
func firstSentence(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if i := strings.Index(s, ". "); i >= 0 {
		return s[:i+1]
	}
	return s
}
