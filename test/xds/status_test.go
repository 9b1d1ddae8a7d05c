package xds

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/util/wait"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// objectStatus is what a test reads of the status Loom writes on an Istio object.
type objectStatus struct {
	generation, observedGeneration string
	conditions                     map[string]condition // by type
	statusManagers                 []string             // managers of the status subresource
}

type condition struct{ status, reason, message string }

func (s objectStatus) String() string {
	return fmt.Sprintf("generation %s observedGeneration %s conditions %v managers %v", s.generation, s.observedGeneration, s.conditions, s.statusManagers)
}

// istioKind is an Istio kind as a test reads it.
type istioKind struct{ apiVersion, kind string }

var (
	virtualServiceKind  = istioKind{"networking.istio.io/v1", "VirtualService"}
	destinationRuleKind = istioKind{"networking.istio.io/v1", "DestinationRule"}
)

func readStatus(t *testing.T, k istioKind, ns, name string) objectStatus {
	t.Helper()
	obj := &unstructured.Unstructured{}
	obj.SetAPIVersion(k.apiVersion)
	obj.SetKind(k.kind)
	if err := k8sClient.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: name}, obj); err != nil {
		t.Fatalf("get %s %s/%s: %v", k.kind, ns, name, err)
	}
	st := objectStatus{generation: fmt.Sprint(obj.GetGeneration()), conditions: map[string]condition{}}
	if g, ok, _ := unstructured.NestedFieldNoCopy(obj.Object, "status", "observedGeneration"); ok {
		st.observedGeneration = fmt.Sprint(g)
	}
	conds, _, _ := unstructured.NestedSlice(obj.Object, "status", "conditions")
	for _, c := range conds {
		m, _ := c.(map[string]any)
		str := func(k string) string { s, _ := m[k].(string); return s }
		st.conditions[str("type")] = condition{status: str("status"), reason: str("reason"), message: str("message")}
	}
	for _, mf := range obj.GetManagedFields() {
		if mf.Subresource == "status" {
			st.statusManagers = append(st.statusManagers, mf.Manager)
		}
	}
	return st
}

// waitStatus waits until the object's status satisfies cond and returns it.
func waitStatus(t *testing.T, k istioKind, ns, name, what string, cond func(objectStatus) bool) objectStatus {
	t.Helper()
	var last objectStatus
	err := wait.PollUntilContextTimeout(context.Background(), 100*time.Millisecond, 30*time.Second, true, func(context.Context) (bool, error) {
		last = readStatus(t, k, ns, name)
		return cond(last), nil
	})
	if err != nil {
		t.Fatalf("%s %s/%s: no status with %s within 30s; last: %v", k.kind, ns, name, what, last)
	}
	return last
}

func reconciledWith(prefix string) func(objectStatus) bool {
	return func(s objectStatus) bool {
		return s.observedGeneration == s.generation && s.conditions["Accepted"].status == "True" &&
			strings.HasPrefix(s.conditions["Reconciled"].message, prefix)
	}
}

// TestVirtualServiceStatusFollowsANack: the status of a VirtualService shows the one gRPC
// client it applies to running it, then rejecting the config a DestinationRule adds (ISTIO_MUTUAL
// needs certificate providers its bootstrap does not have), then running it again once the
// DestinationRule no longer asks for TLS.
func TestVirtualServiceStatusFollowsANack(t *testing.T) {
	ns := newNamespace(t)
	port := int(nextPort.Add(1))
	createService(t, ns, "echo", port, startBackendOn(t, network.Hosts[0], port, "echo-v1", map[string]string{"version": "v1"}))
	applyPrivateEcho(t, ns)
	w := startWatcher(t, ns, target(ns, "echo", port))
	w.waitFor(t, time.Time{}, "echo-v1", 30*time.Second)

	st := waitStatus(t, virtualServiceKind, ns, "echo", "Accepted and programmed on the one client", reconciledWith("programmed on 1 of 1 proxy"))
	if r := st.conditions["Reconciled"]; r.status != "True" || r.reason != "Programmed" {
		t.Errorf("Reconciled = %+v, want True Programmed", r)
	}
	if strings.Join(st.statusManagers, ",") != "loom-discovery-status" {
		t.Errorf("status written by %v, want the field manager loom-discovery-status", st.statusManagers)
	}

	apply(t, ns, `
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata:
  name: echo
spec:
  host: echo
  exportTo: ["."]
  trafficPolicy:
    tls: {mode: ISTIO_MUTUAL}
`)
	st = waitStatus(t, virtualServiceKind, ns, "echo", "the client's rejection", reconciledWith("programmed on 0 of 1 proxy; 1 rejected it: "))
	r := st.conditions["Reconciled"]
	if r.status != "False" || r.reason != "Rejected" || !strings.Contains(r.message, "certificate provider") {
		t.Errorf("Reconciled = %+v, want False Rejected with gRPC's NACK message about the certificate provider", r)
	}
	t.Logf("VirtualService status while the client rejects: %s", r.message)
	waitStatus(t, destinationRuleKind, ns, "echo", "the client's rejection", reconciledWith("programmed on 0 of 1 proxy; 1 rejected it: "))
	// The client keeps its last accepted config: calls still succeed in plaintext.
	rejected := time.Now()
	w.waitFor(t, rejected, "echo-v1", 10*time.Second)

	apply(t, ns, `
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata:
  name: echo
spec:
  host: echo
  exportTo: ["."]
  trafficPolicy:
    tls: {mode: DISABLE}
`)
	waitStatus(t, virtualServiceKind, ns, "echo", "the client running it again", reconciledWith("programmed on 1 of 1 proxy"))
	st = waitStatus(t, destinationRuleKind, ns, "echo", "the client running the new generation", reconciledWith("programmed on 1 of 1 proxy"))
	if st.generation != "2" {
		t.Errorf("the DestinationRule is at generation %s, want 2", st.generation)
	}
}

// TestInvalidObjectStatusNamesTheField: an object the model leaves out says so, with the
// field, and claims no proxies.
func TestInvalidObjectStatusNamesTheField(t *testing.T) {
	ns := newNamespace(t)
	apply(t, ns, `
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata:
  name: dup-subsets
spec:
  host: echo
  subsets:
  - name: v1
  - name: v1
`)
	st := waitStatus(t, destinationRuleKind, ns, "dup-subsets", "Accepted False", func(s objectStatus) bool {
		return s.observedGeneration == s.generation && s.conditions["Accepted"].status == "False"
	})
	a := st.conditions["Accepted"]
	if a.reason != "Invalid" || !strings.Contains(a.message, "spec.subsets[1].name") {
		t.Errorf("Accepted = %+v, want reason Invalid naming spec.subsets[1].name", a)
	}
	if _, ok := st.conditions["Reconciled"]; ok {
		t.Errorf("an object the model left out claims proxies: %v", st)
	}
}

// applyPrivateEcho routes Service echo in ns with a VirtualService private to the namespace,
// so only the test's own clients count in its status.
func applyPrivateEcho(t *testing.T, ns string) {
	t.Helper()
	apply(t, ns, `
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: echo
spec:
  hosts: [echo]
  exportTo: ["."]
  http:
  - route:
    - destination: {host: echo}
    timeout: 5s
`)
}
