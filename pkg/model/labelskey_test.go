package model

import "testing"

func TestLabelsKey(t *testing.T) {
	a := map[string]string{"app": "web", "version": "v1", "pod-template-hash": "5d4f"}
	b := map[string]string{"version": "v1", "pod-template-hash": "5d4f", "app": "web"}
	if LabelsKey(a) != LabelsKey(b) {
		t.Errorf("equal sets: %q != %q", LabelsKey(a), LabelsKey(b))
	}
	if got, want := LabelsKey(a), "|app=web|pod-template-hash=5d4f|version=v1"; got != want {
		t.Errorf("LabelsKey = %q, want %q", got, want)
	}
	for _, other := range []map[string]string{nil, {"app": "web"}, {"app": "web", "version": "v2", "pod-template-hash": "5d4f"}, {"app": "webversion=v1"}} {
		if LabelsKey(other) == LabelsKey(a) {
			t.Errorf("%v and %v share the key %q", other, a, LabelsKey(a))
		}
	}
}
