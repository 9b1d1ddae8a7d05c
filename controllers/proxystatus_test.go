package controllers

import (
	"reflect"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	operatorv1alpha1 "loom.dev/loom/api/v1alpha1"
)

func report(revision string, data map[string]string) corev1.ConfigMap {
	return corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Namespace: "mesh", Name: operatorv1alpha1.ProxyStatusConfigMap(revision),
			Labels: map[string]string{operatorv1alpha1.LabelProxyStatus: "true", operatorv1alpha1.LabelProxyStatusRevision: revision}},
		Data: data,
	}
}

func TestSummarizeProxies(t *testing.T) {
	reports := []corev1.ConfigMap{
		report("stable", map[string]string{
			"cp-stable-a":    `{"connected":100,"outOfDate":2}`,
			"cp-stable-b":    `{"connected":20,"outOfDate":0}`,
			"cp-stable-gone": `{"connected":50,"outOfDate":50}`, // a replaced pod's leftover
		}),
		report("canary", map[string]string{"cp-canary-a": `{"connected":3,"outOfDate":1}`, "cp-canary-b": `not json`}),
		report("retired", map[string]string{"cp-retired-a": `{"connected":9,"outOfDate":0}`}),
	}
	running := map[string]bool{"cp-stable-a": true, "cp-stable-b": true, "cp-canary-a": true, "cp-canary-b": true}
	got, problems := summarizeProxies(reports, running)
	want := &operatorv1alpha1.ProxiesStatus{
		Connected: 123, OutOfDate: 3, Summary: "120/123 current",
		Revisions: []operatorv1alpha1.RevisionProxies{
			{Revision: "canary", Connected: 3, OutOfDate: 1, Reporting: 1},
			{Revision: "stable", Connected: 120, OutOfDate: 2, Reporting: 2},
		},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %+v\nwant %+v", got, want)
	}
	if len(problems) != 1 || !strings.Contains(problems[0], "cp-canary-b") {
		t.Errorf("problems %v, want the key that does not parse", problems)
	}
	if got, _ := summarizeProxies(reports, map[string]bool{}); got != nil {
		t.Errorf("no running control-plane pod: %+v, want no report", got)
	}
}

func TestRunningPods(t *testing.T) {
	now := metav1.Now()
	pods := []corev1.Pod{
		{ObjectMeta: metav1.ObjectMeta{Name: "running"}, Status: corev1.PodStatus{Phase: corev1.PodRunning}},
		{ObjectMeta: metav1.ObjectMeta{Name: "pending"}, Status: corev1.PodStatus{Phase: corev1.PodPending}},
		{ObjectMeta: metav1.ObjectMeta{Name: "deleting", DeletionTimestamp: &now}, Status: corev1.PodStatus{Phase: corev1.PodRunning}},
	}
	if got := runningPods(pods); !reflect.DeepEqual(got, map[string]bool{"running": true}) {
		t.Errorf("running %v", got)
	}
}
