package integration

import (
	"context"
	"os/exec"
	"strings"
	"testing"
	"time"

	networkingv1 "istio.io/client-go/pkg/apis/networking/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"sigs.k8s.io/controller-runtime/pkg/client"

	operatorv1alpha1 "loom.dev/loom/api/v1alpha1"
	"loom.dev/loom/pkg/istiocrds"
)

// istioYAML is configuration as Istio's documentation writes it, across API versions.
const istioYAML = `
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: reviews, namespace: istio-yaml}
spec:
  hosts: [reviews]
  http:
  - match:
    - headers: {end-user: {exact: jason}}
      uri: {prefix: /api}
    route:
    - destination: {host: reviews, subset: v2}
    retries: {attempts: 3, perTryTimeout: 2s, retryOn: "gateway-error,connect-failure"}
    fault: {delay: {percentage: {value: 10}, fixedDelay: 5s}}
  - route:
    - destination: {host: reviews, subset: v1}
      weight: 80
    - destination: {host: reviews, subset: v3}
      weight: 20
    mirror: {host: reviews, subset: v3}
    mirror_percent: 10
---
apiVersion: networking.istio.io/v1beta1
kind: DestinationRule
metadata: {name: reviews, namespace: istio-yaml}
spec:
  host: reviews
  trafficPolicy:
    loadBalancer: {consistentHash: {httpHeaderName: x-user}}
    connectionPool: {tcp: {maxConnections: 100}, http: {http1MaxPendingRequests: 10, maxRequestsPerConnection: 1}}
    outlierDetection: {consecutive5xxErrors: 5, interval: 30s, baseEjectionTime: 30s, maxEjectionPercent: 50}
  subsets:
  - {name: v1, labels: {version: v1}}
  - {name: v2, labels: {version: v2}, trafficPolicy: {loadBalancer: {simple: ROUND_ROBIN}}}
---
apiVersion: networking.istio.io/v1alpha3
kind: Gateway
metadata: {name: bookinfo, namespace: istio-yaml}
spec:
  selector: {istio: ingressgateway}
  servers:
  - port: {number: 443, name: https, protocol: HTTPS}
    hosts: ["bookinfo.example.com"]
    tls: {mode: SIMPLE, credentialName: bookinfo-cert}
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: external-api, namespace: istio-yaml}
spec:
  hosts: [api.example.com]
  location: MESH_EXTERNAL
  ports: [{number: 443, name: https, protocol: TLS}]
  resolution: DNS
---
apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata: {name: vm-1, namespace: istio-yaml}
spec: {address: 192.0.2.10, labels: {app: legacy}, serviceAccount: legacy}
---
apiVersion: networking.istio.io/v1
kind: Sidecar
metadata: {name: default, namespace: istio-yaml}
spec:
  egress:
  - hosts: ["./*", "istio-system/*"]
---
apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: {name: default, namespace: istio-yaml}
spec: {mtls: {mode: STRICT}}
---
apiVersion: security.istio.io/v1beta1
kind: AuthorizationPolicy
metadata: {name: allow-get, namespace: istio-yaml}
spec:
  selector: {matchLabels: {app: reviews}}
  action: ALLOW
  rules:
  - from: [{source: {principals: ["cluster.local/ns/default/sa/productpage"]}}]
    to: [{operation: {methods: [GET]}}]
`

func kubectl(t *testing.T, stdin string, args ...string) (string, error) {
	t.Helper()
	cmd := exec.CommandContext(t.Context(), cluster.Kubectl(), append([]string{"--kubeconfig", cluster.KubeconfigPath}, args...)...)
	cmd.Stdin = strings.NewReader(stdin)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func TestIstioYAMLWorksUnmodified(t *testing.T) {
	createMesh(t, newMesh("istio-yaml"))
	waitCondition(t, "istio-yaml", operatorv1alpha1.ConditionReady, metav1.ConditionTrue)

	if out, err := kubectl(t, istioYAML, "apply", "--server-side", "-f", "-"); err != nil {
		t.Fatalf("Istio's own YAML rejected: %v\n%s", err, out)
	}
	// Pruning keeps every field: the route weights come back as written, through the typed client.
	vs := &networkingv1.VirtualService{}
	if err := k8sClient.Get(t.Context(), client.ObjectKey{Namespace: "istio-yaml", Name: "reviews"}, vs); err != nil {
		t.Fatal(err)
	}
	if w := vs.Spec.Http[1].Route[1].Weight; w != 20 || vs.Spec.Http[0].Retries.PerTryTimeout.AsDuration() != 2*time.Second {
		t.Errorf("VirtualService read back wrong: weight %d, perTryTimeout %v", w, vs.Spec.Http[0].Retries.PerTryTimeout)
	}
	if out, err := kubectl(t, "", "get", "vs,dr,gw,se,we,sidecar,pa,ap", "-n", "istio-yaml", "--no-headers"); err != nil || strings.Count(out, "\n") != 8 {
		t.Errorf("kubectl get by short names: %v\n%s", err, out)
	}

	bad := `
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: bad, namespace: istio-yaml}
spec:
  hosts: reviews
  http: [{route: [{destination: {host: reviews}, weight: "heavy"}]}]
`
	out, err := kubectl(t, bad, "apply", "-f", "-")
	if err == nil || !strings.Contains(out, "spec.hosts") || !strings.Contains(out, "spec.http[0].route[0].weight") {
		t.Errorf("invalid VirtualService: %v\n%s", err, out)
	}
}

func TestForeignIstioCRDIsLeftAlone(t *testing.T) {
	// Pretend Istio installed the WorkloadGroup CRD: without Loom's label the operator must
	// neither change nor claim it.
	crd := &apiextensionsv1.CustomResourceDefinition{}
	if err := k8sClient.Get(t.Context(), client.ObjectKey{Name: "workloadgroups.networking.istio.io"}, crd); err != nil {
		if !apierrors.IsNotFound(err) {
			t.Fatal(err)
		}
		createMesh(t, newMesh("crd-owner"))
		waitCondition(t, "crd-owner", operatorv1alpha1.ConditionReady, metav1.ConditionTrue)
		if err := k8sClient.Get(t.Context(), client.ObjectKey{Name: "workloadgroups.networking.istio.io"}, crd); err != nil {
			t.Fatal(err)
		}
	}
	delete(crd.Labels, istiocrds.Label)
	crd.Spec.Names.ShortNames = []string{"wg", "istio-wg"}
	if err := k8sClient.Update(t.Context(), crd); err != nil {
		t.Fatal(err)
	}
	createMesh(t, newMesh("foreign-crd"))
	waitCondition(t, "foreign-crd", operatorv1alpha1.ConditionReady, metav1.ConditionTrue)
	if err := k8sClient.Get(t.Context(), client.ObjectKey{Name: crd.Name}, crd); err != nil {
		t.Fatal(err)
	}
	if crd.Labels[istiocrds.Label] != "" || len(crd.Spec.Names.ShortNames) != 2 {
		t.Errorf("the operator changed a CRD it does not own: labels %v shortNames %v", crd.Labels, crd.Spec.Names.ShortNames)
	}
	// Give it back to Loom for the tests that follow.
	crd.Labels[istiocrds.Label] = "true"
	crd.Spec.Names.ShortNames = []string{"wg"}
	if err := k8sClient.Update(t.Context(), crd); err != nil {
		t.Fatal(err)
	}
}

// TestIstioCRDsRemovedOnlyWhenAsked removes the CRDs and puts them back when it is done, so
// the tests after it, in any order, find them.
func TestIstioCRDsRemovedOnlyWhenAsked(t *testing.T) {
	t.Cleanup(func() { restoreIstioCRDs(t) })
	createMesh(t, newMesh("keeps-crds"))
	waitCondition(t, "keeps-crds", operatorv1alpha1.ConditionReady, metav1.ConditionTrue)
	deleteMesh(t, "keeps-crds")
	if err := k8sClient.Get(t.Context(), client.ObjectKey{Name: "virtualservices.networking.istio.io"}, &apiextensionsv1.CustomResourceDefinition{}); err != nil {
		t.Fatalf("Istio CRDs removed by a plain uninstall: %v", err)
	}

	// Wait until no other mesh remains, so that the opt-in applies.
	err := wait.PollUntilContextTimeout(t.Context(), 100*time.Millisecond, time.Minute, true, func(ctx context.Context) (bool, error) {
		list := &operatorv1alpha1.MeshOperatorList{}
		return k8sClient.List(ctx, list) == nil && len(list.Items) == 0, nil
	})
	if err != nil {
		t.Fatal("meshes from earlier tests were never released")
	}
	mesh := newMesh("removes-crds")
	mesh.Annotations = map[string]string{operatorv1alpha1.RemoveIstioCRDsAnnotation: "true"}
	createMesh(t, mesh)
	waitCondition(t, "removes-crds", operatorv1alpha1.ConditionReady, metav1.ConditionTrue)
	deleteMesh(t, "removes-crds")
	for _, crd := range istiocrds.CRDs() {
		live := &apiextensionsv1.CustomResourceDefinition{}
		err := k8sClient.Get(t.Context(), client.ObjectKey{Name: crd.Name}, live)
		if err == nil && live.DeletionTimestamp.IsZero() {
			t.Errorf("CRD %s kept although removal was asked for", crd.Name)
		}
	}
}

func TestDeletedIstioCRDIsRestored(t *testing.T) {
	createMesh(t, newMesh("crd-restore"))
	waitCondition(t, "crd-restore", operatorv1alpha1.ConditionReady, metav1.ConditionTrue)
	crd := &apiextensionsv1.CustomResourceDefinition{}
	if err := k8sClient.Get(t.Context(), client.ObjectKey{Name: "sidecars.networking.istio.io"}, crd); err != nil {
		t.Fatal(err)
	}
	uid := crd.UID
	if err := k8sClient.Delete(t.Context(), crd); err != nil {
		t.Fatal(err)
	}
	err := wait.PollUntilContextTimeout(t.Context(), 200*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
		live := &apiextensionsv1.CustomResourceDefinition{}
		err := k8sClient.Get(ctx, client.ObjectKey{Name: "sidecars.networking.istio.io"}, live)
		return err == nil && live.UID != uid && live.DeletionTimestamp.IsZero(), nil
	})
	if err != nil {
		t.Fatal("a deleted Istio CRD was not restored within 30s")
	}
}

// restoreIstioCRDs waits for removed Istio CRDs to be gone and creates them again, established.
func restoreIstioCRDs(t *testing.T) {
	ctx := context.Background()
	for _, crd := range istiocrds.CRDs() {
		err := wait.PollUntilContextTimeout(ctx, 200*time.Millisecond, 2*time.Minute, true, func(ctx context.Context) (bool, error) {
			live := &apiextensionsv1.CustomResourceDefinition{}
			err := k8sClient.Get(ctx, client.ObjectKey{Name: crd.Name}, live)
			if err == nil {
				return live.DeletionTimestamp.IsZero(), nil
			}
			if !apierrors.IsNotFound(err) {
				return false, err
			}
			if err := k8sClient.Create(ctx, crd.DeepCopy()); err != nil && !apierrors.IsAlreadyExists(err) {
				return false, err
			}
			return false, nil
		})
		if err != nil {
			t.Fatalf("restoring CRD %s: %v", crd.Name, err)
		}
		err = wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, time.Minute, true, func(ctx context.Context) (bool, error) {
			live := &apiextensionsv1.CustomResourceDefinition{}
			if err := k8sClient.Get(ctx, client.ObjectKey{Name: crd.Name}, live); err != nil {
				return false, nil
			}
			for _, c := range live.Status.Conditions {
				if c.Type == apiextensionsv1.Established && c.Status == apiextensionsv1.ConditionTrue {
					return true, nil
				}
			}
			return false, nil
		})
		if err != nil {
			t.Fatalf("restored CRD %s never became established", crd.Name)
		}
	}
}
