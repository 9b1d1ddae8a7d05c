package integration

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"sigs.k8s.io/controller-runtime/pkg/client"

	operatorv1alpha1 "loom.dev/loom/api/v1alpha1"
)

const meshConfigChecksum = "checksum/mesh-config"

// replicaSetsWith lists the ReplicaSets in a namespace whose pod template carries the mesh
// config checksum, by name.
func replicaSetsWith(t *testing.T, namespace, checksum string) []string {
	t.Helper()
	list := &appsv1.ReplicaSetList{}
	if err := k8sClient.List(t.Context(), list, client.InNamespace(namespace)); err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, rs := range list.Items {
		if rs.Spec.Template.Annotations[meshConfigChecksum] == checksum {
			names = append(names, rs.Name)
		}
	}
	return names
}

// TestMeshConfigChangeRollsTheControlPlane: loom discovery reads its mesh config at start, so
// a changed spec.meshConfig must reach it as a new pod template, and the mesh is Ready again
// once the new pods are.
func TestMeshConfigChangeRollsTheControlPlane(t *testing.T) {
	const name = "meshconfig-roll"
	createMesh(t, newMesh(name))
	waitCondition(t, name, operatorv1alpha1.ConditionReady, metav1.ConditionTrue)
	before := controlPlane(t, name).Spec.Template.Annotations[meshConfigChecksum]
	if before == "" || len(replicaSetsWith(t, name, before)) == 0 {
		t.Fatalf("control plane pod template has no %s annotation, or no ReplicaSet runs it", meshConfigChecksum)
	}

	patchMesh(t, name, `{"spec":{"meshConfig":{"outboundTrafficPolicy":"REGISTRY_ONLY"}}}`)
	var after string
	err := wait.PollUntilContextTimeout(t.Context(), 50*time.Millisecond, 60*time.Second, true, func(ctx context.Context) (bool, error) {
		after = controlPlane(t, name).Spec.Template.Annotations[meshConfigChecksum]
		return after != before && len(replicaSetsWith(t, name, after)) > 0, nil
	})
	if err != nil {
		t.Fatalf("no new ReplicaSet for the changed mesh config: annotation %q, before %q", after, before)
	}
	cm := &corev1.ConfigMap{}
	if err := k8sClient.Get(t.Context(), client.ObjectKey{Namespace: name, Name: "loom-control-plane-mesh"}, cm); err != nil {
		t.Fatal(err)
	}
	meshYAML := cm.Data["mesh.yaml"]
	if sum := sha256.Sum256([]byte(meshYAML)); !strings.Contains(meshYAML, "outboundTrafficPolicy: REGISTRY_ONLY") || hex.EncodeToString(sum[:]) != after {
		t.Errorf("ConfigMap mesh.yaml (checksum %x) does not match the pod template's %s=%s:\n%s", sum, meshConfigChecksum, after, meshYAML)
	}
	waitCondition(t, name, operatorv1alpha1.ConditionReady, metav1.ConditionTrue)
}

// TestMeshConfigHonored: every field the API offers takes effect now (access logging and
// tracing included), so MeshConfigHonored is True with them set. (What is named when a field
// takes no effect is unit-tested in controllers: the API can no longer express such a field.)
func TestMeshConfigHonored(t *testing.T) {
	const name = "meshconfig-honored"
	mesh := newMesh(name)
	mesh.Spec.MeshConfig.MTLSMode = "STRICT"
	mesh.Spec.MeshConfig.AccessLogging.Enabled = true
	mesh.Spec.MeshConfig.Tracing.Enabled = true
	mesh.Spec.MeshConfig.Tracing.CollectorAddress = "zipkin.tracing.svc:9411"
	mesh.Spec.MeshConfig.OutboundTrafficPolicy = "REGISTRY_ONLY"
	createMesh(t, mesh)

	got := waitCondition(t, name, operatorv1alpha1.ConditionMeshConfigHonored, metav1.ConditionTrue)
	if c := meta.FindStatusCondition(got.Status.Conditions, operatorv1alpha1.ConditionMeshConfigHonored); c.Reason != operatorv1alpha1.ReasonAllFieldsHonored {
		t.Errorf("MeshConfigHonored reason %s (%q), want %s", c.Reason, c.Message, operatorv1alpha1.ReasonAllFieldsHonored)
	}
}
