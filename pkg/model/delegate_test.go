package model

import (
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/protobuf/testing/protocmp"
	"google.golang.org/protobuf/types/known/durationpb"
	networking "istio.io/api/networking/v1alpha3"
)

func prefix(p string) *networking.StringMatch {
	return &networking.StringMatch{MatchType: &networking.StringMatch_Prefix{Prefix: p}}
}

func exact(e string) *networking.StringMatch {
	return &networking.StringMatch{MatchType: &networking.StringMatch_Exact{Exact: e}}
}

func routeTo(host string) []*networking.HTTPRouteDestination {
	return []*networking.HTTPRouteDestination{{Destination: &networking.Destination{Host: host}}}
}

func TestStringMatchConflict(t *testing.T) {
	regex := &networking.StringMatch{MatchType: &networking.StringMatch_Regex{Regex: "/a.*"}}
	for _, tc := range []struct {
		name       string
		root, leaf *networking.StringMatch
		conflict   bool
	}{
		{"unset root", nil, exact("/x"), false},
		{"unset leaf", prefix("/a"), nil, false},
		{"prefix narrows prefix", prefix("/a"), prefix("/a/b"), false},
		{"prefix widens prefix", prefix("/a/b"), prefix("/a"), true},
		{"exact under prefix", prefix("/a"), exact("/a/c"), false},
		{"exact outside prefix", prefix("/a"), exact("/b"), true},
		{"same exact", exact("/a"), exact("/a"), false},
		{"other exact", exact("/a"), exact("/b"), true},
		{"prefix under exact", exact("/a"), prefix("/a"), true},
		{"regex root", regex, exact("/a"), true},
		{"regex leaf", prefix("/a"), regex, true},
	} {
		if got := stringMatchConflict(tc.root, tc.leaf); got != tc.conflict {
			t.Errorf("%s: conflict = %v, want %v", tc.name, got, tc.conflict)
		}
	}
}

func TestHTTPRoutesMergesDelegates(t *testing.T) {
	root := &VirtualService{Meta: Meta{Name: "root", Namespace: "web"}, Spec: &networking.VirtualService{
		Hosts:    []string{"shop.example.com"},
		Gateways: []string{"ingress"},
		Http: []*networking.HTTPRoute{
			{Name: "first", Route: routeTo("home")},
			{
				Name:     "cart",
				Match:    []*networking.HTTPMatchRequest{{Uri: prefix("/cart"), Headers: map[string]*networking.StringMatch{"x-region": exact("eu")}, Gateways: []string{"ingress"}}},
				Timeout:  durationpb.New(3),
				Mirror:   &networking.Destination{Host: "audit"},
				Delegate: &networking.Delegate{Name: "cart", Namespace: "team"},
			},
		},
	}}
	leaf := &VirtualService{Meta: Meta{Name: "cart", Namespace: "team"}, Spec: &networking.VirtualService{
		Http: []*networking.HTTPRoute{
			{Name: "items", Match: []*networking.HTTPMatchRequest{{Uri: prefix("/cart/items"), Headers: map[string]*networking.StringMatch{"x-user": exact("ada")}}}, Route: routeTo("items")},
			{Name: "outside", Match: []*networking.HTTPMatchRequest{{Uri: prefix("/account")}}, Route: routeTo("account")},
			{Name: "nested", Delegate: &networking.Delegate{Name: "deeper"}},
			{Name: "rest", Timeout: durationpb.New(9), Route: routeTo("cart")},
		},
	}}
	snap := Build(Input{VirtualServices: []*VirtualService{root, leaf}})
	bound := snap.VirtualServices("web", "web/ingress")
	if len(bound) != 1 {
		t.Fatalf("bound = %v", bound)
	}
	routes, problems := snap.HTTPRoutes(bound[0])

	var names []string
	for _, r := range routes {
		names = append(names, r.Route.GetName()+"@"+r.Owner.Meta.String()+"/"+r.Field)
	}
	want := []string{"first@web/root/spec.http[0]", "cart-items@team/cart/spec.http[0]", "cart-rest@team/cart/spec.http[3]"}
	if diff := cmp.Diff(want, names); diff != "" {
		t.Fatalf("routes (-want +got):\n%s", diff)
	}
	items := routes[1]
	if items.DelegatedBy != "web/root spec.http[1]" {
		t.Errorf("DelegatedBy = %q", items.DelegatedBy)
	}
	wantMatch := &networking.HTTPMatchRequest{
		Uri:      prefix("/cart/items"),
		Headers:  map[string]*networking.StringMatch{"x-region": exact("eu"), "x-user": exact("ada")},
		Gateways: []string{"web/ingress"}, // resolved in the root's namespace
	}
	if diff := cmp.Diff(wantMatch, items.Route.GetMatch()[0], protocmp.Transform()); diff != "" {
		t.Errorf("merged match (-want +got):\n%s", diff)
	}
	if items.Route.GetTimeout().GetNanos() != 3 || routes[2].Route.GetTimeout().GetNanos() != 9 {
		t.Error("the root's timeout applies where the delegate sets none, and only there")
	}
	if got := items.Route.GetMirror().GetHost(); got != "audit.web.svc.cluster.local" {
		t.Errorf("an inherited mirror keeps the root's namespace: %q", got)
	}
	if !slices.ContainsFunc(problems, func(p Problem) bool { return p.Meta.Name == "cart" && p.Field == "spec.http[2].delegate" }) {
		t.Errorf("nested delegation must be reported: %v", problems)
	}
	if leaf.Spec.GetHttp()[0].GetMatch()[0].GetHeaders()["x-region"] != nil || root.Spec.GetHttp()[1].GetDelegate() == nil {
		t.Error("merging must not modify the input objects")
	}
}

func TestHTTPRoutesReportsUnusableDelegates(t *testing.T) {
	root := &VirtualService{Meta: Meta{Name: "root", Namespace: "web"}, Spec: &networking.VirtualService{
		Hosts: []string{"shop"},
		Http: []*networking.HTTPRoute{
			{Delegate: &networking.Delegate{Name: "missing"}},
			{Delegate: &networking.Delegate{Name: "private", Namespace: "team"}},
			{Delegate: &networking.Delegate{Name: "local"}, Route: routeTo("ignored")},
		},
	}}
	private := &VirtualService{Meta: Meta{Name: "private", Namespace: "team"}, Spec: &networking.VirtualService{
		ExportTo: []string{"."}, Http: []*networking.HTTPRoute{{Route: routeTo("x")}},
	}}
	local := &VirtualService{Meta: Meta{Name: "local", Namespace: "web"}, Spec: &networking.VirtualService{
		Http: []*networking.HTTPRoute{{Route: routeTo("y")}},
	}}
	snap := Build(Input{VirtualServices: []*VirtualService{root, private, local}})
	routes, problems := snap.HTTPRoutes(snap.VirtualServiceFor("web", "shop.web.svc.cluster.local"))
	if len(routes) != 1 || routes[0].Route.GetRoute()[0].GetDestination().GetHost() != "y" || routes[0].Owner != local {
		t.Errorf("only the local delegate's route remains, got %+v", routes)
	}
	var fields []string
	for _, p := range problems {
		fields = append(fields, p.Field)
	}
	want := []string{"spec.http[0].delegate", "spec.http[1].delegate", "spec.http[2]"}
	if diff := cmp.Diff(want, fields); diff != "" {
		t.Errorf("problem fields (-want +got):\n%s\n%v", diff, problems)
	}
}
