package discovery

import (
	"context"
	"testing"

	"github.com/go-logr/logr"
	security "istio.io/api/security/v1beta1"
	typev1beta1 "istio.io/api/type/v1beta1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	toolscache "k8s.io/client-go/tools/cache"

	"loom.dev/loom/pkg/model"
)

func TestPushScopeNamesTheViewsAPolicyChangeReaches(t *testing.T) {
	denyWeb := &model.AuthorizationPolicy{Meta: model.Meta{Namespace: "shop", Name: "deny-web", Generation: 1}, Spec: &security.AuthorizationPolicy{
		Selector: &typev1beta1.WorkloadSelector{MatchLabels: map[string]string{"app": "web"}}, Action: security.AuthorizationPolicy_DENY,
		Rules: []*security.Rule{{}},
	}}
	m := newMetrics(nil)
	snaps := &snapshots{current: model.Build(model.Input{AuthorizationPolicies: []*model.AuthorizationPolicy{denyWeb}})}
	g := &generator{ctx: context.Background(), snapshots: snaps, metrics: m, problems: newProblemLog(logr.Discard(), m),
		log: logr.Discard(), views: map[string]*viewState{}, warned: map[string]bool{}, trust: &trustBundle{}}
	viewOf := func(app string) string {
		key, err := g.ViewKey(node(t, "sidecar~10.1.0.1~"+app+"-1.shop~shop.svc.cluster.local", map[string]any{"LABELS": map[string]any{"app": app}}))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := g.Generate(key); err != nil {
			t.Fatal(err)
		}
		return key
	}
	web, api := viewOf("web"), viewOf("api")
	policy := func(name string) *unstructured.Unstructured {
		u := &unstructured.Unstructured{}
		u.SetNamespace("shop")
		u.SetName(name)
		return u
	}
	scope := func() map[string]bool {
		affected := g.PushScope()
		if affected == nil {
			return nil
		}
		return map[string]bool{web: affected(web), api: affected(api)}
	}

	if got := scope(); got != nil {
		t.Fatalf("a push nobody explained is scoped to %v, want every view", got)
	}

	// Deleted: the model no longer selects web for it, web's last generation did.
	snaps.current = model.Build(model.Input{})
	g.changes.noteObject(model.KindAuthorizationPolicy, toolscache.DeletedFinalStateUnknown{Key: "shop/deny-web", Obj: policy("deny-web")})
	if got := scope(); got == nil || !got[web] || got[api] {
		t.Fatalf("deleting a policy that selected web reaches %v, want web alone", got)
	}
	_, _ = g.Generate(web)

	// Created for api: the new model selects api; web never depended on it.
	allowAPI := &model.AuthorizationPolicy{Meta: model.Meta{Namespace: "shop", Name: "allow-api", Generation: 1}, Spec: &security.AuthorizationPolicy{
		Selector: &typev1beta1.WorkloadSelector{MatchLabels: map[string]string{"app": "api"}},
	}}
	snaps.current = model.Build(model.Input{AuthorizationPolicies: []*model.AuthorizationPolicy{allowAPI}})
	g.changes.noteObject(model.KindAuthorizationPolicy, policy("allow-api"))
	if got := scope(); got == nil || got[web] || !got[api] {
		t.Fatalf("creating a policy for api reaches %v, want api alone", got)
	}

	// Any other kind can reach every view, and so can a policy change noted with it.
	g.changes.noteObject(model.KindAuthorizationPolicy, policy("allow-api"))
	g.changes.noteObject("VirtualService", policy("routes"))
	if got := scope(); got != nil {
		t.Fatalf("a VirtualService change is scoped to %v, want every view", got)
	}
	g.changes.noteObject(model.KindAuthorizationPolicy, "not an object")
	if got := scope(); got != nil {
		t.Fatalf("a change discovery cannot name is scoped to %v, want every view", got)
	}

	// A view forgotten takes its recorded dependencies with it.
	g.ViewRemoved(web)
	if _, ok := g.views[web]; ok {
		t.Fatal("a removed view and its policy dependencies are kept")
	}
}
