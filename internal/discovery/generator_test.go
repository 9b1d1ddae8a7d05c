package discovery

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/go-logr/logr"
	"github.com/go-logr/logr/funcr"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"loom.dev/loom/pkg/model"
)

func TestProxiesOfAnotherRevisionAreRefusedCountedAndLoggedOnce(t *testing.T) {
	var logged []string
	log := funcr.New(func(_, args string) { logged = append(logged, args) }, funcr.Options{})
	m := newMetrics(nil)
	snaps := &snapshots{current: model.Build(model.Input{})} // clean: get never reads the cluster
	g := &generator{ctx: context.Background(), snapshots: snaps, metrics: m, problems: newProblemLog(log, m),
		revision: "canary", log: log, views: map[string]*viewState{}, warned: map[string]bool{}}

	for _, tc := range []struct {
		id, revision string
		served       bool
	}{
		{"sidecar~10.1.0.1~a-1.web~web.svc.cluster.local", "canary", true},
		{"sidecar~10.1.0.2~a-2.web~web.svc.cluster.local", "stable", false},
		{"sidecar~10.1.0.3~a-3.web~web.svc.cluster.local", "stable", false},
		{"sidecar~10.1.0.4~a-4.web~web.svc.cluster.local", "", true}, // unknown: served, not counted
	} {
		meta := map[string]any{}
		if tc.revision != "" {
			meta["ISTIO_REVISION"] = tc.revision
		}
		_, err := g.ViewKey(node(t, tc.id, meta))
		if tc.served && err != nil {
			t.Fatalf("%s: a proxy of this revision (or of none) is served: %v", tc.id, err)
		}
		if !tc.served && (status.Code(err) != codes.FailedPrecondition || !strings.Contains(err.Error(), `revision "stable"`)) {
			t.Fatalf("%s: a proxy of revision stable got %v, want FailedPrecondition naming its revision", tc.id, err)
		}
	}
	if len(g.views) != 1 {
		t.Errorf("%d views, want 1: the two served proxies share one, a refused proxy has none", len(g.views))
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

func TestViewRemovedForgetsTheViewAndItsProblems(t *testing.T) {
	m := newMetrics(nil)
	snaps := &snapshots{current: model.Build(model.Input{})}
	g := &generator{ctx: context.Background(), snapshots: snaps, metrics: m, problems: newProblemLog(logr.Discard(), m),
		log: logr.Discard(), views: map[string]*viewState{}, warned: map[string]bool{}}
	keys := map[string]bool{}
	for i := range 200 {
		n := node(t, fmt.Sprintf("sidecar~10.1.0.1~web-%d.web~web.svc.cluster.local", i),
			map[string]any{"LABELS": map[string]any{"app": "web", "pod-template-hash": fmt.Sprint(i)}})
		key, err := g.ViewKey(n)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := g.Generate(key); err != nil {
			t.Fatal(err)
		}
		keys[key] = true
	}
	if len(keys) != 200 || len(g.views) != 200 || len(g.problems.sources) != 200 {
		t.Fatalf("%d keys, %d views, %d problem sources; want 200 of each (one per label set)", len(keys), len(g.views), len(g.problems.sources))
	}
	var one string
	for k := range keys {
		one = k
		break
	}
	g.problems.replace(viewSource(one), []model.Problem{{Kind: "VirtualService", Meta: model.Meta{Namespace: "web", Name: "vs"}, Field: "spec.http[0]", Message: "bad"}})
	if got := testutil.ToFloat64(m.problems); got != 1 {
		t.Fatalf("problems gauge = %v, want 1", got)
	}

	for k := range keys {
		g.ViewRemoved(k)
	}
	if len(g.views) != 0 || len(g.problems.sources) != 0 || len(g.problems.list()) != 0 {
		t.Fatalf("left behind: %d views, %d problem sources, problems %v", len(g.views), len(g.problems.sources), g.problems.list())
	}
	if got := testutil.ToFloat64(m.problems); got != 0 {
		t.Fatalf("problems gauge = %v after the view is gone", got)
	}
	// A removed view's Generate (a push that started before the removal)
	// fails and leaves no problems source behind.
	if _, err := g.Generate(one); err == nil || len(g.problems.sources) != 0 {
		t.Fatalf("Generate of a removed view: err %v, %d sources", err, len(g.problems.sources))
	}
}
