package discovery

import (
	"reflect"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
)

func TestConfigzListsWhatTheLastBuildRead(t *testing.T) {
	w := newIstioInputs(istioKinds())
	vs, ok := w.kindNamed("VirtualService")
	if !ok {
		t.Fatal("no VirtualService kind")
	}
	object := func(uid, name, rv, timeout string) *unstructured.Unstructured {
		u := &unstructured.Unstructured{Object: map[string]any{
			"apiVersion": "networking.istio.io/v1", "kind": "VirtualService",
			"spec": map[string]any{"hosts": []any{"a"}, "http": []any{map[string]any{"timeout": timeout}}},
		}}
		u.SetNamespace("ns")
		u.SetName(name)
		u.SetUID(types.UID(uid))
		u.SetResourceVersion(rv)
		return u
	}
	seen := map[types.UID]decodedObject{}
	if _, problem := w.decode(vs, object("2", "b", "7", "banana"), seen); problem == nil {
		t.Fatal("timeout banana decoded")
	}
	if _, problem := w.decode(vs, object("1", "a", "5", "1s"), seen); problem != nil {
		t.Fatal(problem)
	}
	w.keepOnly(seen)
	want := []configzEntry{
		{Object: "VirtualService ns/a", ResourceVersion: "5"},
		{Object: "VirtualService ns/b", ResourceVersion: "7", Skipped: true},
	}
	if got := w.configz(); !reflect.DeepEqual(got, want) {
		t.Fatalf("configz = %+v, want %+v", got, want)
	}
	// A deleted object is gone from the next build, and from configz.
	seen = map[types.UID]decodedObject{}
	if _, problem := w.decode(vs, object("1", "a", "6", "2s"), seen); problem != nil {
		t.Fatal(problem)
	}
	w.keepOnly(seen)
	if got := w.configz(); !reflect.DeepEqual(got, []configzEntry{{Object: "VirtualService ns/a", ResourceVersion: "6"}}) {
		t.Fatalf("after b's deletion and a's update configz = %+v", got)
	}
}
