package controllers

import (
	"testing"

	"loom.dev/loom/pkg/apply"
)

func TestVerdictsAreReusedOnlyForTheSameResourceVersion(t *testing.T) {
	var v verdicts
	ready := apply.Readiness{Ready: true, Desired: 2, Updated: 2}
	v.put("m", "Deployment ns/cp", "7", ready)
	v.put("other", "Deployment ns/cp", "9", apply.Readiness{Message: "waiting"})

	if got, ok := v.get("m", "Deployment ns/cp", "7"); !ok || got != ready {
		t.Errorf("unchanged object: got %+v, %v; want the remembered verdict", got, ok)
	}
	for _, tc := range []struct{ mesh, key, rv string }{
		{"m", "Deployment ns/cp", "8"},     // the object changed
		{"m", "Deployment ns/gw", "7"},     // another object
		{"m", "Deployment ns/cp", ""},      // no version to compare
		{"other", "Deployment ns/cp", "7"}, // another mesh's verdict
	} {
		if got, ok := v.get(tc.mesh, tc.key, tc.rv); ok {
			t.Errorf("get(%q, %q, %q) reused %+v", tc.mesh, tc.key, tc.rv, got)
		}
	}
	v.forget("m")
	if _, ok := v.get("m", "Deployment ns/cp", "7"); ok {
		t.Error("a verdict survived its mesh's uninstall")
	}
	if _, ok := v.get("other", "Deployment ns/cp", "9"); !ok {
		t.Error("forgetting one mesh dropped another's verdicts")
	}
}
