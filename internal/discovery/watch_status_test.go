package discovery

import (
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

func TestStatusOnlyUpdatesAreNotChanges(t *testing.T) {
	obj := func(generation int64, labels, annotations map[string]string, deleting bool) *unstructured.Unstructured {
		u := &unstructured.Unstructured{}
		u.SetGeneration(generation)
		u.SetLabels(labels)
		u.SetAnnotations(annotations)
		if deleting {
			now := metav1.Now()
			u.SetDeletionTimestamp(&now)
		}
		return u
	}
	base := obj(3, map[string]string{"a": "1"}, map[string]string{"n": "x"}, false)
	for _, c := range []struct {
		name       string
		next       *unstructured.Unstructured
		statusOnly bool
	}{
		{"status written", obj(3, map[string]string{"a": "1"}, map[string]string{"n": "x"}, false), true},
		{"spec changed", obj(4, map[string]string{"a": "1"}, map[string]string{"n": "x"}, false), false},
		{"label changed", obj(3, map[string]string{"a": "2"}, map[string]string{"n": "x"}, false), false},
		{"annotation removed", obj(3, map[string]string{"a": "1"}, nil, false), false},
		{"being deleted", obj(3, map[string]string{"a": "1"}, map[string]string{"n": "x"}, true), false},
	} {
		if got := statusOnly(base, c.next); got != c.statusOnly {
			t.Errorf("%s: statusOnly = %v, want %v", c.name, got, c.statusOnly)
		}
	}
	if statusOnly(obj(0, nil, nil, false), obj(0, nil, nil, false)) {
		t.Error("an object without a generation cannot tell a spec change: every update must count")
	}
	if statusOnly("not an object", base) {
		t.Error("an object without metadata must count as a change")
	}
}
