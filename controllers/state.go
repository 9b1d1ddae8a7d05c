package controllers

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	operatorv1alpha1 "loom.dev/loom/api/v1alpha1"
)

// stateComponent labels the ConfigMap that holds the operator's memory of a mesh; component
// pruning never touches it, and uninstall removes it with the rest.
const stateComponent = "operator-state"

// meshState is what the operator must remember across restarts to roll back safely.
type meshState struct {
	// UID is the MeshOperator's: state left by an earlier object of the same name is ignored.
	UID types.UID `json:"uid"`
	// LastGood is the newest spec whose components all became Ready.
	LastGood *specAt `json:"lastGood,omitempty"`
	// Attempt is the generation being rolled out and when that began.
	Attempt *attempt `json:"attempt,omitempty"`
	// RolledBack is the generation that failed and was rolled back; it is not applied
	// again until the spec changes.
	RolledBack *rollback `json:"rolledBack,omitempty"`
	// LegacyRevisions are the revisions as operators before MeshRevision kept them, read
	// only to turn them into MeshRevisions; never written.
	LegacyRevisions map[string]*legacyRevision `json:"revisions,omitempty"`
}

// legacyRevision is a revision record in the state ConfigMap's old format.
type legacyRevision struct {
	Spec        operatorv1alpha1.MeshOperatorSpec `json:"spec"`
	UnusedSince *metav1.Time                      `json:"unusedSince,omitempty"`
}

func (st *meshState) deepCopy() *meshState {
	out := &meshState{UID: st.UID}
	if st.LastGood != nil {
		out.LastGood = &specAt{Generation: st.LastGood.Generation, Spec: *st.LastGood.Spec.DeepCopy()}
	}
	if st.Attempt != nil {
		a := *st.Attempt
		out.Attempt = &a
	}
	if st.RolledBack != nil {
		rb := *st.RolledBack
		out.RolledBack = &rb
	}
	return out
}

type rollback struct {
	Generation int64  `json:"generation"`
	Message    string `json:"message"`
}

// rolledBackAt tells whether gen failed and the last good spec serves instead.
func (st *meshState) rolledBackAt(gen int64) bool {
	return st.RolledBack != nil && st.RolledBack.Generation == gen && st.LastGood != nil
}

type specAt struct {
	Generation int64                             `json:"generation"`
	Spec       operatorv1alpha1.MeshOperatorSpec `json:"spec"`
}

type attempt struct {
	Generation int64       `json:"generation"`
	Started    metav1.Time `json:"started"`
}

func stateName(mesh string) string { return "loom-operator-state-" + mesh }

// loadState reads the state from the apiserver, not the cache: rollback decisions must not
// rest on a stale copy.
func (r *MeshOperatorReconciler) loadState(ctx context.Context, mesh *operatorv1alpha1.MeshOperator) (*meshState, error) {
	cm := &corev1.ConfigMap{}
	err := r.uncached().Get(ctx, client.ObjectKey{Namespace: mesh.Spec.Namespace, Name: stateName(mesh.Name)}, cm)
	if apierrors.IsNotFound(err) {
		return &meshState{UID: mesh.UID}, nil
	}
	if err != nil {
		return nil, err
	}
	st := &meshState{}
	if err := json.Unmarshal([]byte(cm.Data["state.json"]), st); err != nil {
		return nil, fmt.Errorf("ConfigMap %s/%s: %w", cm.Namespace, cm.Name, err)
	}
	if st.UID != mesh.UID {
		return &meshState{UID: mesh.UID}, nil
	}
	return st, nil
}

// uncached reads from the apiserver itself, or through the client when no APIReader is set.
func (r *MeshOperatorReconciler) uncached() client.Reader {
	if r.APIReader != nil {
		return r.APIReader
	}
	return r.Client
}

func (r *MeshOperatorReconciler) saveState(ctx context.Context, mesh *operatorv1alpha1.MeshOperator, st *meshState) error {
	data, err := json.Marshal(st)
	if err != nil {
		return err
	}
	cm := &corev1.ConfigMap{
		TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "ConfigMap"},
		ObjectMeta: metav1.ObjectMeta{
			Namespace: mesh.Spec.Namespace,
			Name:      stateName(mesh.Name),
			Labels:    map[string]string{LabelMesh: mesh.Name, LabelComponent: stateComponent},
		},
		Data: map[string]string{"state.json": string(data)},
	}
	u, err := runtime.DefaultUnstructuredConverter.ToUnstructured(cm)
	if err != nil {
		return err
	}
	return r.Applier.Apply(ctx, []*unstructured.Unstructured{{Object: u}})
}

// startAttempt records when the rollout of a generation began, unless that generation is
// already rolling out or is the last good one.
func (st *meshState) startAttempt(gen int64, now time.Time) bool {
	if (st.Attempt != nil && st.Attempt.Generation == gen) || (st.LastGood != nil && st.LastGood.Generation == gen) {
		return false
	}
	st.Attempt = &attempt{Generation: gen, Started: metav1.NewTime(now)}
	return true
}
