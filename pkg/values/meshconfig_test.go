package values

import (
	"testing"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"

	operatorv1alpha1 "loom.dev/loom/api/v1alpha1"
)

func TestEffectiveMeshConfigMergesChartOverrides(t *testing.T) {
	spec := &operatorv1alpha1.MeshOperatorSpec{Namespace: "loom-system", Version: "1.1.0"}
	spec.MeshConfig.OutboundTrafficPolicy = "REGISTRY_ONLY"
	spec.Values.ControlPlane = &apiextensionsv1.JSON{Raw: []byte(`{"meshConfig":{"mtlsMode":"STRICT","tracing":{"enabled":true}}}`)}
	mc, err := EffectiveMeshConfig(spec)
	if err != nil {
		t.Fatal(err)
	}
	if mc.MTLSMode != "STRICT" || !mc.Tracing.Enabled || mc.OutboundTrafficPolicy != "REGISTRY_ONLY" {
		t.Fatalf("effective mesh config %+v: want the overrides merged over spec.meshConfig", mc)
	}

	spec.Values.ControlPlane = &apiextensionsv1.JSON{Raw: []byte(`{"meshConfig":{"mtlsMod":"STRICT"}}`)}
	if _, err := EffectiveMeshConfig(spec); err == nil {
		t.Fatal("an unknown mesh config field (which loom discovery refuses) was accepted")
	}
}
