package controllers

import (
	"github.com/prometheus/client_golang/prometheus"
	"sigs.k8s.io/controller-runtime/pkg/metrics"
)

// rollbacks counts the failed upgrades the operator rolled back, for the add-on's
// LoomRollbackHappened alert.
var rollbacks = prometheus.NewCounterVec(prometheus.CounterOpts{
	Name: "loom_operator_rollbacks_total",
	Help: "Upgrades of a MeshOperator that failed and were rolled back to its last good generation.",
}, []string{"mesh"})

func init() {
	metrics.Registry.MustRegister(rollbacks)
}

// recordRollback counts one rollback of the mesh.
func recordRollback(mesh string) {
	rollbacks.WithLabelValues(mesh).Inc()
}
