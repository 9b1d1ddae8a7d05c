package xds

import (
	"os"
	"os/exec"
	"testing"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"loom.dev/loom/pkg/grpcbootstrap"
)

// TestStatusCountsEveryControlPlanesProxies runs a second control plane (revision canary, as
// a pod named canary-cp-0) that does not hold the status Lease beside the shared one, which
// writes status: a VirtualService that applies to a client of each reports both, from the
// writer's own count and the canary's published one.
func TestStatusCountsEveryControlPlanesProxies(t *testing.T) {
	// The canary is a pod of the mesh namespace (its report counts only while that pod
	// exists), and someone else holds the status Lease it campaigns for.
	create(t, &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "canary-cp-0", Namespace: "istio-system"},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "discovery", Image: "loom"}}}})
	leaseNS := newNamespaceNamed(t, "status-lease-held")
	now := metav1.NewMicroTime(time.Now())
	create(t, &coordinationv1.Lease{ObjectMeta: metav1.ObjectMeta{Name: "loom-discovery-status", Namespace: leaseNS},
		Spec: coordinationv1.LeaseSpec{HolderIdentity: ptr.To("someone-else"), LeaseDurationSeconds: ptr.To[int32](3600), AcquireTime: &now, RenewTime: &now}})
	canary, err := startDiscoveryWith("canary", []string{"POD_NAME=canary-cp-0"}, "--status-lease-namespace", leaseNS)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(canary.stop)

	ns := newNamespace(t)
	port := int(nextPort.Add(1))
	createService(t, ns, "echo", port, startBackendOn(t, network.Hosts[0], port, "echo-v1", map[string]string{"version": "v1"}))
	applyPrivateEcho(t, ns)
	startWatcher(t, ns, target(ns, "echo", port)) // the shared control plane's client
	canaryClient(t, canary, ns, "canary-client", target(ns, "echo", port))
	waitStatus(t, virtualServiceKind, ns, "echo", "both control planes' clients counted", reconciledWith("programmed on 2 of 2 proxies"))
}

// canaryClient runs a proxyless gRPC client of revision canary against that control plane.
func canaryClient(t *testing.T, canary *discoveryProcess, ns, name, tgt string) {
	t.Helper()
	doc, err := grpcbootstrap.Bootstrap(canary.xdsAddr, nodeID(ns, name),
		map[string]any{"GENERATOR": "grpc", "NAMESPACE": ns, "LABELS": map[string]any{"app": name}, "ISTIO_REVISION": "canary"})
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(echoBin, "client", "--target", tgt, "--watch", "--interval", "200ms", "--wait-for-ready")
	cmd.Env = append(os.Environ(), grpcbootstrap.EnvConfig+"="+string(doc))
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
}
