package controllers

import (
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"sigs.k8s.io/controller-runtime/pkg/metrics"
)

func TestRecordRollbackCountsPerMesh(t *testing.T) {
	before := testutil.ToFloat64(rollbacks.WithLabelValues("rollback-test"))
	recordRollback("rollback-test")
	recordRollback("rollback-test")
	if got := testutil.ToFloat64(rollbacks.WithLabelValues("rollback-test")); got != before+2 {
		t.Errorf("rollbacks of rollback-test: %v, want %v", got, before+2)
	}
	// Served beside controller-runtime's metrics.
	if n, err := testutil.GatherAndCount(metrics.Registry, "loom_operator_rollbacks_total"); err != nil || n == 0 {
		t.Errorf("loom_operator_rollbacks_total not in controller-runtime's registry (%d series, %v)", n, err)
	}
}
