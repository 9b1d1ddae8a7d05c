package apply

import (
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/utils/ptr"
)

// live turns a typed object into the unstructured form the operator judges, as read back
// from the apiserver.
func live(t *testing.T, gvk schema.GroupVersionKind, obj runtime.Object) *unstructured.Unstructured {
	t.Helper()
	m, err := runtime.DefaultUnstructuredConverter.ToUnstructured(obj)
	if err != nil {
		t.Fatal(err)
	}
	u := &unstructured.Unstructured{Object: m}
	u.SetGroupVersionKind(gvk)
	return u
}

type readinessCase struct {
	name  string
	obj   *unstructured.Unstructured
	ready bool
	// msg is part of the message when not ready.
	msg              string
	desired, updated int32
}

func checkReadiness(t *testing.T, cases []readinessCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r, err := ReadinessOf(tc.obj)
			if err != nil {
				t.Fatal(err)
			}
			if r.Ready != tc.ready || !strings.Contains(r.Message, tc.msg) || (tc.ready && r.Message != "") {
				t.Errorf("got %+v, want ready=%v with a message containing %q", r, tc.ready, tc.msg)
			}
			if !tc.ready && !strings.Contains(r.Message, Describe(tc.obj)) {
				t.Errorf("message %q does not name %s", r.Message, Describe(tc.obj))
			}
			if r.Desired != tc.desired || r.Updated != tc.updated {
				t.Errorf("counted %d/%d pods, want %d/%d", r.Updated, r.Desired, tc.updated, tc.desired)
			}
		})
	}
}

var (
	objMeta = metav1.ObjectMeta{Namespace: "ns", Name: "cp", Generation: 2}
	// setTime is any set time: a zero time is not serialized.
	setTime = metav1.NewTime(time.Unix(1_700_000_000, 0))
)

func TestDeploymentReadiness(t *testing.T) {
	gvk := appsv1.SchemeGroupVersion.WithKind("Deployment")
	rolledOut := []appsv1.DeploymentCondition{
		{Type: appsv1.DeploymentAvailable, Status: corev1.ConditionTrue},
		{Type: appsv1.DeploymentProgressing, Status: corev1.ConditionTrue, Reason: "NewReplicaSetAvailable"},
	}
	deploy := func(gen, observed int64, replicas, updated, available, total int32, conds ...appsv1.DeploymentCondition) *unstructured.Unstructured {
		m := objMeta
		m.Generation = gen
		return live(t, gvk, &appsv1.Deployment{
			ObjectMeta: m,
			Spec:       appsv1.DeploymentSpec{Replicas: ptr.To(replicas), ProgressDeadlineSeconds: ptr.To[int32](600)},
			Status: appsv1.DeploymentStatus{ObservedGeneration: observed, UpdatedReplicas: updated, ReadyReplicas: available,
				AvailableReplicas: available, Replicas: total, Conditions: conds},
		})
	}
	deleting := deploy(2, 2, 2, 2, 2, 2, rolledOut...)
	deleting.SetDeletionTimestamp(&setTime)
	checkReadiness(t, []readinessCase{
		{"ready", deploy(2, 2, 2, 2, 2, 2, rolledOut...), true, "", 2, 2},
		{"spec not observed", deploy(3, 2, 2, 2, 2, 2, rolledOut...), false, "is InProgress: Deployment generation is 3, but latest observed generation is 2", 2, 2},
		{"rolling", deploy(2, 2, 3, 1, 3, 4), false, "is InProgress: Updated: 1/3", 3, 1},
		{"old replicas left", deploy(2, 2, 2, 2, 2, 3), false, "Pending termination: 1", 2, 2},
		{"not available", deploy(2, 2, 2, 2, 1, 2), false, "Available: 1/2", 2, 1},
		{"new replica set not available yet", deploy(2, 2, 1, 1, 1, 1), false, "ReplicaSet not Available", 1, 1},
		{"deadline", deploy(2, 2, 2, 1, 1, 2, appsv1.DeploymentCondition{Type: appsv1.DeploymentProgressing,
			Status: corev1.ConditionFalse, Reason: "ProgressDeadlineExceeded", Message: "stuck"}), false, "Deployment ns/cp failed: Progress deadline exceeded", 2, 1},
		{"being deleted", deleting, false, "Terminating", 2, 2},
	})
}

func TestStatefulSetReadiness(t *testing.T) {
	gvk := appsv1.SchemeGroupVersion.WithKind("StatefulSet")
	sts := func(replicas, ready, current, updated int32, currentRev, updateRev string) *unstructured.Unstructured {
		return live(t, gvk, &appsv1.StatefulSet{
			ObjectMeta: objMeta,
			Spec:       appsv1.StatefulSetSpec{Replicas: ptr.To(replicas)},
			Status: appsv1.StatefulSetStatus{ObservedGeneration: 2, Replicas: replicas, ReadyReplicas: ready, AvailableReplicas: ready,
				CurrentReplicas: current, UpdatedReplicas: updated, CurrentRevision: currentRev, UpdateRevision: updateRev},
		})
	}
	checkReadiness(t, []readinessCase{
		{"ready", sts(3, 3, 3, 3, "r1", "r1"), true, "", 3, 3},
		{"pods not ready", sts(3, 1, 3, 3, "r1", "r1"), false, "is InProgress: Ready: 1/3", 3, 1},
		{"rolling to a new revision", sts(3, 3, 3, 1, "r1", "r2"), false, "Waiting for updated revision to match current", 3, 1},
	})
}

func TestDaemonSetReadiness(t *testing.T) {
	gvk := appsv1.SchemeGroupVersion.WithKind("DaemonSet")
	ds := func(observed int64, desired, updated, available int32) *unstructured.Unstructured {
		return live(t, gvk, &appsv1.DaemonSet{
			ObjectMeta: objMeta,
			Status: appsv1.DaemonSetStatus{ObservedGeneration: observed, DesiredNumberScheduled: desired, CurrentNumberScheduled: desired,
				UpdatedNumberScheduled: updated, NumberAvailable: available, NumberReady: available},
		})
	}
	checkReadiness(t, []readinessCase{
		{"ready", ds(2, 4, 4, 4), true, "", 4, 4},
		{"never observed by its controller", ds(0, 0, 0, 0), false, "status.observedGeneration not found", 0, 0},
		{"rolling", ds(2, 4, 2, 4), false, "Updated: 2/4", 4, 2},
		{"not available", ds(2, 4, 4, 3), false, "Available: 3/4", 4, 3},
	})
}

func TestJobReadiness(t *testing.T) {
	gvk := batchv1.SchemeGroupVersion.WithKind("Job")
	job := func(started bool, conds ...batchv1.JobCondition) *unstructured.Unstructured {
		st := batchv1.JobStatus{Conditions: conds, Active: 1}
		if started {
			st.StartTime = &setTime
		}
		return live(t, gvk, &batchv1.Job{ObjectMeta: objMeta, Status: st})
	}
	checkReadiness(t, []readinessCase{
		{"running", job(true), true, "", 0, 0},
		{"complete", job(true, batchv1.JobCondition{Type: batchv1.JobComplete, Status: corev1.ConditionTrue}), true, "", 0, 0},
		{"not started", job(false), false, "Job not started", 0, 0},
		{"failed", job(true, batchv1.JobCondition{Type: batchv1.JobFailed, Status: corev1.ConditionTrue}), false, "Job ns/cp failed: Job Failed", 0, 0},
	})
}

func TestHorizontalPodAutoscalerReadiness(t *testing.T) {
	gvk := autoscalingv2.SchemeGroupVersion.WithKind("HorizontalPodAutoscaler")
	hpa := func(observed int64) *unstructured.Unstructured {
		st := autoscalingv2.HorizontalPodAutoscalerStatus{DesiredReplicas: 2, CurrentReplicas: 2}
		if observed > 0 {
			st.ObservedGeneration = ptr.To(observed)
		}
		return live(t, gvk, &autoscalingv2.HorizontalPodAutoscaler{ObjectMeta: objMeta, Status: st})
	}
	checkReadiness(t, []readinessCase{
		{"observed", hpa(2), true, "", 0, 0},
		{"new spec not observed", hpa(1), false, "HorizontalPodAutoscaler generation is 2, but latest observed generation is 1", 0, 0},
	})
}

func TestKindsWithoutStatusAreReady(t *testing.T) {
	checkReadiness(t, []readinessCase{
		{"configmap", live(t, corev1.SchemeGroupVersion.WithKind("ConfigMap"), &corev1.ConfigMap{ObjectMeta: objMeta}), true, "", 0, 0},
		{"service", live(t, corev1.SchemeGroupVersion.WithKind("Service"), &corev1.Service{ObjectMeta: objMeta, Spec: corev1.ServiceSpec{ClusterIP: "10.0.0.9"}}), true, "", 0, 0},
	})
}
