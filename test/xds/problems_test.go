package xds

import (
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/util/retry"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"loom.dev/loom/pkg/istiocrds"
)

// permissiveCRD lets any spec of an Istio kind in, as an older CRD or
// another installer's may, until the test ends.
func permissiveCRD(t *testing.T, name string) {
	t.Helper()
	ctx := context.Background()
	var saved []apiextensionsv1.CustomResourceValidation
	setSchemas := func(schema func(i int) *apiextensionsv1.CustomResourceValidation) error {
		return retry.RetryOnConflict(retry.DefaultRetry, func() error {
			var crd apiextensionsv1.CustomResourceDefinition
			if err := k8sClient.Get(ctx, client.ObjectKey{Name: name}, &crd); err != nil {
				return err
			}
			if saved == nil {
				for _, v := range crd.Spec.Versions {
					saved = append(saved, *v.Schema.DeepCopy())
				}
			}
			for i := range crd.Spec.Versions {
				crd.Spec.Versions[i].Schema = schema(i)
			}
			return k8sClient.Update(ctx, &crd)
		})
	}
	anything := apiextensionsv1.JSONSchemaProps{Type: "object", XPreserveUnknownFields: ptr.To(true)}
	err := setSchemas(func(int) *apiextensionsv1.CustomResourceValidation {
		return &apiextensionsv1.CustomResourceValidation{OpenAPIV3Schema: &apiextensionsv1.JSONSchemaProps{
			Type: "object", Properties: map[string]apiextensionsv1.JSONSchemaProps{"spec": anything, "status": anything},
		}}
	})
	if err != nil {
		t.Fatalf("making %s permissive: %v", name, err)
	}
	t.Cleanup(func() {
		if err := setSchemas(func(i int) *apiextensionsv1.CustomResourceValidation { return &saved[i] }); err != nil {
			t.Errorf("restoring %s: %v", name, err)
		}
	})
}

// problems is the list /debug/problems serves.
func problems(t *testing.T) []string {
	t.Helper()
	resp, err := http.Get("http://" + plane.monitoringAddr + "/debug/problems")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = resp.Body.Close() }()
	var body struct {
		Problems []string `json:"problems"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		t.Fatal(err)
	}
	return body.Problems
}

// waitForProblem waits until /debug/problems lists a problem starting with
// prefix and containing every part, and returns it.
func waitForProblem(t *testing.T, prefix string, parts ...string) string {
	t.Helper()
	var found string
	var last []string
	err := wait.PollUntilContextTimeout(context.Background(), 100*time.Millisecond, 30*time.Second, true, func(context.Context) (bool, error) {
		last = problems(t)
		i := slices.IndexFunc(last, func(p string) bool {
			if !strings.HasPrefix(p, prefix) {
				return false
			}
			for _, part := range parts {
				if !strings.Contains(p, part) {
					return false
				}
			}
			return true
		})
		if i >= 0 {
			found = last[i]
		}
		return i >= 0, nil
	})
	if err != nil {
		t.Fatalf("/debug/problems never listed %q with %q; it lists %q", prefix, parts, last)
	}
	return found
}

// problemsGauge reads loom_discovery_config_problems.
func problemsGauge(t *testing.T) float64 {
	t.Helper()
	families := metricFamilies(t)
	for _, m := range families["loom_discovery_config_problems"].GetMetric() {
		return m.GetGauge().GetValue()
	}
	t.Fatal("no loom_discovery_config_problems metric")
	return 0
}

// waitGaugeCountsProblems waits until the metric counts exactly what
// /debug/problems lists (both change as rebuilds and views come and go).
func waitGaugeCountsProblems(t *testing.T) {
	t.Helper()
	var gauge float64
	var listed []string
	err := wait.PollUntilContextTimeout(context.Background(), 100*time.Millisecond, 30*time.Second, true, func(context.Context) (bool, error) {
		listed = problems(t)
		gauge = problemsGauge(t)
		return gauge == float64(len(listed)) && problemsGauge(t) == gauge, nil
	})
	if err != nil {
		t.Fatalf("loom_discovery_config_problems is %v while /debug/problems lists %d: %q", gauge, len(listed), listed)
	}
}

func ready(t *testing.T) int {
	t.Helper()
	resp, err := http.Get("http://" + plane.monitoringAddr + "/ready")
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	return resp.StatusCode
}

// warningEvents are the Warning events with reason on the object.
func warningEvents(t *testing.T, obj client.Object, reason string) []corev1.Event {
	t.Helper()
	var list corev1.EventList
	if err := k8sClient.List(context.Background(), &list, client.InNamespace(obj.GetNamespace())); err != nil {
		t.Fatal(err)
	}
	var out []corev1.Event
	for _, e := range list.Items {
		if e.InvolvedObject.UID == obj.GetUID() && e.Type == corev1.EventTypeWarning && e.Reason == reason {
			out = append(out, e)
		}
	}
	return out
}

func waitForWarning(t *testing.T, obj client.Object, reason string) corev1.Event {
	t.Helper()
	var events []corev1.Event
	err := wait.PollUntilContextTimeout(context.Background(), 100*time.Millisecond, 30*time.Second, true, func(context.Context) (bool, error) {
		events = warningEvents(t, obj, reason)
		return len(events) > 0, nil
	})
	if err != nil {
		t.Fatalf("no Warning event %s on %s %s/%s", reason, obj.GetObjectKind().GroupVersionKind().Kind, obj.GetNamespace(), obj.GetName())
	}
	return events[0]
}

// get reads an Istio object as the API server stores it.
func get(t *testing.T, ns, apiVersion, kind, name string) *unstructured.Unstructured {
	t.Helper()
	u := &unstructured.Unstructured{}
	u.SetAPIVersion(apiVersion)
	u.SetKind(kind)
	if err := k8sClient.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: name}, u); err != nil {
		t.Fatal(err)
	}
	return u
}

func deleteLater(t *testing.T, ns, apiVersion, kind, name string) {
	t.Helper()
	t.Cleanup(func() {
		u := &unstructured.Unstructured{}
		u.SetAPIVersion(apiVersion)
		u.SetKind(kind)
		u.SetNamespace(ns)
		u.SetName(name)
		if err := k8sClient.Delete(context.Background(), u); err != nil && !apierrors.IsNotFound(err) {
			t.Errorf("deleting %s %s: %v", kind, name, err)
		}
	})
}

// An object the CRD lets in but the typed Istio API cannot decode is
// skipped and reported; every other object of its kind keeps flowing, and a
// control plane restarted while it exists becomes ready and serves.
func TestUndecodableObjectSkippedAndReported(t *testing.T) {
	permissiveCRD(t, "destinationrules.networking.istio.io")
	permissiveCRD(t, "virtualservices.networking.istio.io")
	ns := newNamespace(t)
	port := int(nextPort.Add(1))
	v1 := startBackendOn(t, network.Hosts[0], port, "echo-v1", map[string]string{"version": "v1"})
	v2 := startBackendOn(t, network.Hosts[1], port, "echo-v2", map[string]string{"version": "v2"})
	createService(t, ns, "echo", port, v1, v2)

	// The bad objects come first: what follows must not depend on the
	// watch having seen the good ones before.
	apply(t, ns, `
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: broken}
spec:
  host: elsewhere
  trafficPolicy:
    outlierDetection: {consecutive5xxErrors: 3, interval: banana}
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: broken}
spec:
  hosts: [elsewhere]
  http:
  - timeout: banana
    route: [{destination: {host: elsewhere}}]
`)
	deleteLater(t, ns, "networking.istio.io/v1", "DestinationRule", "broken")
	deleteLater(t, ns, "networking.istio.io/v1", "VirtualService", "broken")
	apply(t, ns, `
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: echo}
spec:
  host: echo
  subsets:
  - {name: v1, labels: {version: v1}}
`)
	routeAllTo(t, ns, "v1")
	w := startWatcher(t, ns, target(ns, "echo", port))
	w.waitFor(t, time.Time{}, "echo-v1", 30*time.Second)

	drProblem := waitForProblem(t, "DestinationRule "+ns+"/broken: spec.trafficPolicy.outlierDetection.interval: ", "banana")
	vsProblem := waitForProblem(t, "VirtualService "+ns+"/broken: spec.http[0].timeout: ", "banana")
	waitGaugeCountsProblems(t)
	if code := ready(t); code != http.StatusOK {
		t.Errorf("/ready answers %d with a bad object present", code)
	}
	waitForWarning(t, get(t, ns, "networking.istio.io/v1", "DestinationRule", "broken"), "InvalidConfig")

	// Later changes of both kinds still flow: a new subset and a route to it.
	apply(t, ns, `
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: echo}
spec:
  host: echo
  subsets:
  - {name: v1, labels: {version: v1}}
  - {name: v2, labels: {version: v2}}
`)
	changed := time.Now()
	routeAllTo(t, ns, "v2")
	w.waitFor(t, changed, "echo-v2", 30*time.Second)

	// A control plane started while the bad objects exist becomes ready
	// (start fails otherwise) and serves the good ones.
	plane.kill()
	if err := plane.start(); err != nil {
		t.Fatal(err)
	}
	if s := runClient(t, ns, target(ns, "echo", port), "--n", "20", "--wait-for-ready"); s.Backends["echo-v2"] != 20 {
		t.Errorf("after the restart, want every RPC on echo-v2 (subset v2 of the good DestinationRule): %+v", s)
	}
	if got := waitForProblem(t, drProblem); got != drProblem {
		t.Errorf("after the restart the problem reads %q, want %q", got, drProblem)
	}
	waitForProblem(t, vsProblem)
	waitGaugeCountsProblems(t)
}

// Istio kinds Loom does not enforce yet are listed as problems and get a
// Warning event: a policy that does not act must never be invisible.
func TestUnenforcedPoliciesReported(t *testing.T) {
	ns := newNamespace(t)
	workloadGroup := func(name, serviceAccount string) string {
		return "apiVersion: networking.istio.io/v1\nkind: WorkloadGroup\nmetadata: {name: " + name + "}\nspec:\n  template: {serviceAccount: " + serviceAccount + "}\n"
	}
	apply(t, ns, workloadGroup("vms", "vm"))
	waitForProblem(t, "WorkloadGroup "+ns+"/vms: ", "not enforced")
	ra := get(t, ns, "networking.istio.io/v1", "WorkloadGroup", "vms")
	first := waitForWarning(t, ra, "NotEnforced")
	if !strings.Contains(first.Message, "not enforced") {
		t.Errorf("event message %q does not say the policy is not enforced", first.Message)
	}
	waitGaugeCountsProblems(t)

	// Rebuilds and a relabel (same generation) do not repeat the event; a
	// new generation records it again, so in the end it was recorded twice.
	recorded := func() int32 {
		var n int32
		for _, e := range warningEvents(t, ra, "NotEnforced") {
			n += e.Count
		}
		return n
	}
	ra.SetLabels(map[string]string{"touched": "yes"})
	if err := k8sClient.Update(context.Background(), ra); err != nil {
		t.Fatal(err)
	}
	apply(t, ns, workloadGroup("vms", "other-vm"))
	err := wait.PollUntilContextTimeout(context.Background(), 100*time.Millisecond, 30*time.Second, true, func(context.Context) (bool, error) {
		return recorded() >= 2, nil
	})
	if err != nil {
		t.Fatalf("after a spec change (new generation) the event was recorded %d times in all, want 2", recorded())
	}
	// Negative check: a later object's event is recorded, and more than the
	// debounce maximum (1 s) passes, without a third recording.
	apply(t, ns, workloadGroup("marker", "marker"))
	waitForWarning(t, get(t, ns, "networking.istio.io/v1", "WorkloadGroup", "marker"), "NotEnforced")
	time.Sleep(3 * time.Second)
	if n := recorded(); n != 2 {
		t.Errorf("the event was recorded %d times for one relabel and one spec change, want 2 (once per generation)", n)
	}
}

// A kind whose CRD is missing does not keep discovery from becoming ready,
// and is watched once its CRD is installed.
func TestMissingCRDPickedUpWhenInstalled(t *testing.T) {
	const name = "workloadgroups.networking.istio.io"
	ctx := context.Background()
	objs, err := istiocrds.Objects()
	if err != nil {
		t.Fatal(err)
	}
	var crd *unstructured.Unstructured
	for _, o := range objs {
		if o.GetName() == name {
			crd = o
		}
	}
	if crd == nil {
		t.Fatalf("Loom installs no CRD %s", name)
	}
	reinstall := func() error {
		if err := k8sClient.Create(ctx, crd.DeepCopy()); err != nil && !apierrors.IsAlreadyExists(err) {
			return err
		}
		return waitEstablished(ctx, name)
	}
	t.Cleanup(func() {
		if err := reinstall(); err != nil {
			t.Errorf("reinstalling %s: %v", name, err)
		}
	})
	if err := k8sClient.Delete(ctx, crd.DeepCopy()); err != nil {
		t.Fatal(err)
	}
	err = wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, 60*time.Second, true, func(ctx context.Context) (bool, error) {
		err := k8sClient.Get(ctx, client.ObjectKey{Name: name}, &apiextensionsv1.CustomResourceDefinition{})
		return apierrors.IsNotFound(err), nil
	})
	if err != nil {
		t.Fatalf("%s not deleted", name)
	}

	plane.kill()
	if err := plane.start(); err != nil {
		t.Fatalf("discovery must become ready without the %s CRD: %v", name, err)
	}
	if err := reinstall(); err != nil {
		t.Fatal(err)
	}
	ns := newNamespace(t)
	apply(t, ns, `
apiVersion: networking.istio.io/v1
kind: WorkloadGroup
metadata: {name: vms}
spec:
  template: {serviceAccount: vm}
`)
	waitForProblem(t, "WorkloadGroup "+ns+"/vms: ", "not enforced")
	if code := ready(t); code != http.StatusOK {
		t.Errorf("/ready answers %d", code)
	}
}
