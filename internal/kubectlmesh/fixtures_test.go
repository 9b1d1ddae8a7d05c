package kubectlmesh

import (
	"bytes"
	"context"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/client-go/kubernetes/fake"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	ctrlfake "sigs.k8s.io/controller-runtime/pkg/client/fake"

	operatorv1alpha1 "loom.dev/loom/api/v1alpha1"
)

var (
	created = metav1.NewTime(time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC))
	later   = metav1.NewTime(time.Date(2026, 12, 1, 10, 5, 0, 0, time.UTC))
)

func condition(typ string, status metav1.ConditionStatus, reason, msg string, gen int64) metav1.Condition {
	return metav1.Condition{Type: typ, Status: status, Reason: reason, Message: msg, ObservedGeneration: gen, LastTransitionTime: later}
}

// canaryMesh is a mesh in the middle of a revision-based upgrade from 1.0.0 to 1.1.0, as the
// operator reports it: the new revision Ready, the old one kept while workloads use it.
func canaryMesh() *operatorv1alpha1.MeshOperator {
	rootExp := metav1.NewTime(time.Date(2036, 11, 29, 10, 0, 0, 0, time.UTC))
	return &operatorv1alpha1.MeshOperator{
		ObjectMeta: metav1.ObjectMeta{Name: "demo", Generation: 2, CreationTimestamp: created},
		Spec: operatorv1alpha1.MeshOperatorSpec{Version: "1.1.0", Profile: "demo", Namespace: "loom-system",
			UpdateStrategy: operatorv1alpha1.UpdateStrategy{Type: operatorv1alpha1.RevisionBased}},
		Status: operatorv1alpha1.MeshOperatorStatus{
			ObservedGeneration: 2, Version: "1.1.0", Revision: "1-1-0",
			Conditions: []metav1.Condition{
				condition(operatorv1alpha1.ConditionMeshConfigHonored, metav1.ConditionTrue, operatorv1alpha1.ReasonAllFieldsHonored, "", 2),
				condition(operatorv1alpha1.ConditionReconciled, metav1.ConditionTrue, "Applied", "all 3 components applied", 2),
				condition(operatorv1alpha1.ConditionDegraded, metav1.ConditionFalse, "AsExpected", "", 2),
				condition(operatorv1alpha1.ConditionReady, metav1.ConditionTrue, operatorv1alpha1.ReasonReady, "all 3 components ready", 2),
				condition(operatorv1alpha1.ConditionProgressing, metav1.ConditionFalse, operatorv1alpha1.ReasonReady, "", 2),
				condition(operatorv1alpha1.ConditionCAReady, metav1.ConditionTrue, "Signing", "the mesh CA signs workload certificates", 2),
				condition(operatorv1alpha1.ConditionCertificatesExpiring, metav1.ConditionFalse, "Valid", "no CA certificate expires within 30 days", 2),
			},
			Revisions: []operatorv1alpha1.RevisionStatus{{Name: "1-1-0", Version: "1.1.0", Ready: true}, {Name: "1-0-0", Version: "1.0.0", Ready: true}},
			CA:        &operatorv1alpha1.CAStatus{Mode: operatorv1alpha1.CAMode("SelfSigned"), RootExpiresAt: &rootExp, SigningCertExpiresAt: &rootExp},
			Proxies: &operatorv1alpha1.ProxiesStatus{Connected: 12, OutOfDate: 2, Summary: "10/12 current", Revisions: []operatorv1alpha1.RevisionProxies{
				{Revision: "1-1-0", Connected: 2, OutOfDate: 2, Reporting: 1}, {Revision: "default", Connected: 10, Reporting: 2}}},
			Components: []operatorv1alpha1.ComponentStatus{
				{Name: "istio-crds", Kind: operatorv1alpha1.ComponentCRDs, Ready: true},
				{Name: "control-plane-1-1-0", Kind: operatorv1alpha1.ComponentControlPlane, Namespace: "loom-system", Version: "1.1.0", Ready: true, DesiredReplicas: 1, ReadyReplicas: 1},
				{Name: "control-plane-1-0-0", Kind: operatorv1alpha1.ComponentControlPlane, Namespace: "loom-system", Version: "1.0.0", Ready: false, DesiredReplicas: 2, ReadyReplicas: 1, Message: "Deployment loom-system/loom-control-plane-1-0-0: 1 of 2 replicas ready"},
			},
		},
	}
}

func revision(mesh *operatorv1alpha1.MeshOperator, version string, ready, inUse metav1.ConditionStatus, namespaces, workloads int32) *operatorv1alpha1.MeshRevision {
	spec := *mesh.Spec.DeepCopy()
	spec.Version = version
	rev := map[string]string{"1.1.0": "1-1-0", "1.0.0": "1-0-0"}[version]
	r := &operatorv1alpha1.MeshRevision{
		ObjectMeta: metav1.ObjectMeta{Name: mesh.Name + "." + rev, CreationTimestamp: created},
		Spec:       operatorv1alpha1.MeshRevisionSpec{Mesh: mesh.Name, Revision: rev, Version: version, SpecHash: "h-" + rev, MeshSpec: spec},
		Status: operatorv1alpha1.MeshRevisionStatus{
			Conditions: []metav1.Condition{
				condition(operatorv1alpha1.ConditionReady, ready, operatorv1alpha1.ReasonReady, "control plane "+rev+" ready", 1),
				condition(operatorv1alpha1.ConditionInUse, inUse, operatorv1alpha1.ReasonReferenced, "", 1),
			},
			Namespaces: namespaces, Workloads: workloads,
		},
	}
	if inUse == metav1.ConditionFalse {
		r.Status.UnusedSince = &later
	}
	return r
}

func controlPlaneDeployment(name, version string, replicas, ready int32) *appsv1.Deployment {
	return &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "loom-system", Labels: map[string]string{versionLabel: version}},
		Spec: appsv1.DeploymentSpec{
			Replicas: ptr.To(replicas),
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app.kubernetes.io/instance": name}},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app.kubernetes.io/instance": name}},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: discoveryContainer, Image: "loom.dev/loom:v" + version}}},
			},
		},
		Status: appsv1.DeploymentStatus{ReadyReplicas: ready},
	}
}

// clusterObjects is the canary mesh, its two revisions and their control planes, and an
// injected pod of the new revision.
func clusterObjects() []client.Object {
	mesh := canaryMesh()
	return []client.Object{
		mesh,
		revision(mesh, "1.1.0", metav1.ConditionTrue, metav1.ConditionTrue, 1, 2),
		revision(mesh, "1.0.0", metav1.ConditionTrue, metav1.ConditionFalse, 0, 0),
		controlPlaneDeployment("loom-control-plane-1-1-0", "1.1.0", 1, 1),
		controlPlaneDeployment("loom-control-plane-1-0-0", "1.0.0", 2, 1),
		&corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: "echo-v1-7d9f", Namespace: "demo", Labels: map[string]string{revisionLabel: "1-1-0"}},
			Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "echo", Image: "grpcecho"}}},
		},
	}
}

// run runs kubectl-mesh with args over the objects and the clientset.
func run(t *testing.T, clientset *fake.Clientset, objs []client.Object, args ...string) (string, error) {
	t.Helper()
	c := ctrlfake.NewClientBuilder().WithScheme(Scheme()).WithObjects(objs...).WithStatusSubresource(&operatorv1alpha1.MeshOperator{}).Build()
	if clientset == nil {
		clientset = fake.NewClientset()
	}
	var out bytes.Buffer
	o := &Options{
		IO:        genericiooptions.IOStreams{Out: &out, ErrOut: &out},
		clients:   func() (*Clients, error) { return &Clients{Client: c, Clientset: clientset}, nil },
		namespace: func() (string, error) { return "demo", nil },
	}
	cmd := rootCommand(o)
	cmd.SetArgs(args)
	err := cmd.ExecuteContext(context.Background())
	return out.String(), err
}
