package benchkit

import "testing"

func TestParseCRDsKeepsOnlyCRDs(t *testing.T) {
	data := []byte(`apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: things.example.com
---
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: not-a-crd
`)
	crds, err := parseCRDs(data)
	if err != nil {
		t.Fatal(err)
	}
	if len(crds) != 1 || crds[0].Name != "things.example.com" {
		t.Errorf("parseCRDs = %d CRDs, want only things.example.com", len(crds))
	}
	if _, err := parseCRDs([]byte("kind: [")); err == nil {
		t.Error("bad YAML was accepted")
	}
}

func TestIstioAPICRDsIncludeIstiodsOwn(t *testing.T) {
	crds, err := IstioAPICRDs()
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range crds {
		if c.Name == "envoyfilters.networking.istio.io" {
			return
		}
	}
	t.Errorf("istio.io/api's %d CRDs lack envoyfilters.networking.istio.io", len(crds))
}
