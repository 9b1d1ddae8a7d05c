package discovery

import (
	"context"
	"testing"

	"github.com/go-logr/logr/funcr"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"loom.dev/loom/pkg/model"
)

func TestProxiesOfAnotherRevisionAreServedCountedAndLoggedOnce(t *testing.T) {
	var logged []string
	log := funcr.New(func(_, args string) { logged = append(logged, args) }, funcr.Options{})
	m := newMetrics(nil)
	snaps := &snapshots{current: model.Build(model.Input{})} // clean: get never reads the cluster
	g := &generator{ctx: context.Background(), snapshots: snaps, metrics: m, problems: newProblemLog(log, m),
		revision: "canary", log: log, views: map[string]model.Proxy{}, warned: map[string]bool{}}

	for _, tc := range []struct {
		id, revision string
	}{
		{"sidecar~10.1.0.1~a-1.web~web.svc.cluster.local", "canary"},
		{"sidecar~10.1.0.2~a-2.web~web.svc.cluster.local", "stable"},
		{"sidecar~10.1.0.3~a-3.web~web.svc.cluster.local", "stable"},
		{"sidecar~10.1.0.4~a-4.web~web.svc.cluster.local", ""}, // unknown: not counted
	} {
		meta := map[string]any{}
		if tc.revision != "" {
			meta["ISTIO_REVISION"] = tc.revision
		}
		if _, err := g.ViewKey(node(t, tc.id, meta)); err != nil {
			t.Fatalf("%s: a proxy of any revision is served: %v", tc.id, err)
		}
	}
	if got := testutil.ToFloat64(m.foreignRevision.WithLabelValues("stable")); got != 2 {
		t.Errorf("foreign-revision count = %v, want 2", got)
	}
	if got := testutil.CollectAndCount(m.foreignRevision); got != 1 {
		t.Errorf("%d revision series, want only stable's", got)
	}
	if len(logged) != 1 {
		t.Errorf("logged %d times, want once per foreign revision: %v", len(logged), logged)
	}
}

func TestSameRevision(t *testing.T) {
	if !sameRevision("", "default") || !sameRevision("canary", "canary") || sameRevision("canary", "") {
		t.Error(`"" and "default" are the default revision; others compare as written`)
	}
}
