package model

import (
	"testing"

	networking "istio.io/api/networking/v1alpha3"
)

func TestSidecarForPrecedence(t *testing.T) {
	sidecar := func(name, ns string, minute int, selector map[string]string) *Sidecar {
		spec := &networking.Sidecar{}
		if selector != nil {
			spec.WorkloadSelector = &networking.WorkloadSelector{Labels: selector}
		}
		return &Sidecar{Meta: Meta{Name: name, Namespace: ns, Created: at(minute)}, Spec: spec}
	}
	snap := Build(Input{RootNamespace: "mesh", Sidecars: []*Sidecar{
		sidecar("root", "mesh", 0, nil),
		sidecar("root-selecting", "mesh", 0, map[string]string{"app": "a"}),
		sidecar("ns-default", "web", 3, nil),
		sidecar("ns-default-newer", "web", 4, nil),
		sidecar("for-a-newer", "web", 2, map[string]string{"app": "a"}),
		sidecar("for-a", "web", 1, map[string]string{"app": "a"}),
	}})
	for _, tc := range []struct {
		proxy Proxy
		want  string
	}{
		{Proxy{Namespace: "web", Labels: map[string]string{"app": "a"}}, "for-a"},
		{Proxy{Namespace: "web", Labels: map[string]string{"app": "b"}}, "ns-default"},
		{Proxy{Namespace: "db", Labels: map[string]string{"app": "a"}}, "root"},
	} {
		got := "<none>"
		if sc := snap.SidecarFor(tc.proxy); sc != nil {
			got = sc.Name
		}
		if got != tc.want {
			t.Errorf("SidecarFor(%s %v) = %s, want %s", tc.proxy.Namespace, tc.proxy.Labels, got, tc.want)
		}
	}
	if sc := Build(Input{}).SidecarFor(Proxy{Namespace: "web"}); sc != nil {
		t.Errorf("no Sidecar at all: got %v", sc)
	}
}
