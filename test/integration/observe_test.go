package integration

import (
	"context"
	"testing"
	"time"

	eventsv1 "k8s.io/api/events/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"sigs.k8s.io/controller-runtime/pkg/metrics"
)

// waitEvent waits for an Event about the mesh with the reason and type.
func waitEvent(t *testing.T, mesh, reason, eventType string) {
	t.Helper()
	var seen []string
	err := wait.PollUntilContextTimeout(t.Context(), 100*time.Millisecond, 15*time.Second, true, func(ctx context.Context) (bool, error) {
		list := &eventsv1.EventList{}
		if err := k8sClient.List(ctx, list); err != nil {
			return false, err
		}
		seen = seen[:0]
		for _, e := range list.Items {
			if e.Regarding.Kind != "MeshOperator" || e.Regarding.Name != mesh {
				continue
			}
			seen = append(seen, e.Type+"/"+e.Reason+": "+e.Note)
			if e.Reason == reason && e.Type == eventType {
				return true, nil
			}
		}
		return false, nil
	})
	if err != nil {
		t.Errorf("no %s event %s for MeshOperator %s; saw %v", eventType, reason, mesh, seen)
	}
}

// componentGauge reads loom_operator_component_ready for a mesh component from the
// operator's metrics registry; ok is false when the series does not exist.
func componentGauge(t *testing.T, mesh, component string) (value float64, ok bool) {
	t.Helper()
	families, err := metrics.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		if f.GetName() != "loom_operator_component_ready" {
			continue
		}
		for _, m := range f.GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			if labels["mesh"] == mesh && labels["component"] == component {
				return m.GetGauge().GetValue(), true
			}
		}
	}
	return 0, false
}
