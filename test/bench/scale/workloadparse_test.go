package main

import (
	"fmt"
	"slices"
	"testing"

	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	resourcev3 "github.com/envoyproxy/go-control-plane/pkg/resource/v3"

	"loom.dev/loom/internal/discovery"
	"loom.dev/loom/pkg/model"
	"loom.dev/loom/pkg/translate"
)

// TestWorkloadProxiesGetTheirPolicies translates, with Loom's own
// translator, the sidecar config of each kind of workload proxy (the
// clients' replica, a benchmark service's, a team's) in a mesh with the
// generated policies and the Services setupAuthzWorkloads creates, and
// checks that the inbound listener has an HTTP RBAC filter naming exactly
// the generated policies that select the workload. It fails if the
// policies stop selecting the simulated proxies or the parser stops
// finding them.
func TestWorkloadProxiesGetTheirPolicies(t *testing.T) {
	const n, clients = 100, 10
	policies := authzPolicies(n)
	in := model.Input{RootNamespace: rootNamespace}
	for _, p := range policies {
		in.AuthorizationPolicies = append(in.AuthorizationPolicies, &model.AuthorizationPolicy{
			Meta: model.Meta{Name: p.Name, Namespace: p.Namespace}, Spec: &p.Spec,
		})
	}
	service := func(ns, name, ip string) *model.Service {
		return &model.Service{
			Hostname: fmt.Sprintf("%s.%s.%s", name, ns, domainSuffix), Namespace: ns, Name: name, Source: model.SourceKubernetes,
			Ports:    []model.Port{{Name: "http-web", Number: servicePort, Protocol: model.ProtocolHTTP}},
			Selector: map[string]string{"app": name}, Endpoints: []*model.Endpoint{{Address: ip}},
		}
	}
	workloads := authzWorkloads(n)
	for _, w := range workloads {
		ip := w.ip
		if ip == "" {
			ip = clientAddr(clients)
		}
		in.Services = append(in.Services, service(w.namespace, w.app, ip))
	}
	snap := model.Build(in)
	checked := 0
	for _, w := range []authzWorkload{workloads[0], workloads[1], workloads[len(workloads)-1]} {
		p := &workloadProxy{wl: w, ip: w.ip}
		if p.ip == "" {
			p.ip = clientAddr(clients)
		}
		node, err := p.node()
		if err != nil {
			t.Fatal(err)
		}
		proxy, err := discovery.ParseNode(node) // as loom discovery reads the simulated node
		if err != nil {
			t.Fatal(err)
		}
		// The problems are the HTTP-only fields on the TCP passthrough chain every sidecar has.
		res, _ := translate.ForProxy(snap, proxy)
		var inbound *listenerSummary
		for _, r := range res[resourcev3.ListenerType] {
			l := r.(*listenerv3.Listener)
			if l.GetName() != virtualInboundListener {
				continue
			}
			s, err := summarizeListener(l)
			if err != nil {
				t.Fatal(err)
			}
			inbound = s
		}
		if inbound == nil {
			t.Fatalf("%s/%s: no %s listener", w.namespace, w.app, virtualInboundListener)
		}
		var want []string
		for _, ap := range policies {
			sel := ap.Spec.GetSelector().GetMatchLabels()
			if ap.Namespace == w.namespace && (sel == nil || sel["app"] == w.app) {
				want = append(want, ap.Namespace+"/"+ap.Name)
			}
		}
		slices.Sort(want)
		if len(want) < 3 || !inbound.httpRBAC || !slices.Equal(inbound.policies, want) {
			t.Errorf("%s/%s: HTTP RBAC filter %v, policies named %v; want an HTTP RBAC filter naming %v", w.namespace, w.app, inbound.httpRBAC, inbound.policies, want)
		}
		checked++
	}
	if checked != 3 {
		t.Errorf("checked %d workloads", checked)
	}
}
