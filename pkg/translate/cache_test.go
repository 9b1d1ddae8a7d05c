package translate

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"

	"github.com/envoyproxy/go-control-plane/pkg/cache/types"
	"google.golang.org/protobuf/proto"
	telemetry "istio.io/api/telemetry/v1alpha1"
	typev1beta1 "istio.io/api/type/v1beta1"

	"loom.dev/loom/pkg/model"
)

// A Cache builds a sidecar's outbound config for a proxy that stands for every sidecar of
// its namespace (with its labels only where LabelsShapeOutbound says they matter); the
// claim is that every proxy still gets exactly what ForProxy builds for it alone. Checked
// over random meshes with the features labels can shape (Sidecars and DestinationRules
// with workload selectors, VirtualService sourceLabels), Telemetry that rewrites the
// shared listeners of some proxies, and the proxies translated in random order.
func TestCacheGivesEveryProxyWhatItWouldGetAlone(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 5))
	shared := 0
	for mesh := range 150 {
		in, proxies := randomCacheMesh(t, rng)
		snap := model.Build(in)
		keep := len(proxies) // every part held: the test counts how many were shared
		if mesh%2 == 1 {
			keep = 1 + rng.IntN(2) // parts forgotten and built again in between
		}
		c := NewCache(keep)
		built := 0
		cached := make([]Resources, len(proxies))
		cachedProblems := make([][]model.Problem, len(proxies))
		for _, i := range rng.Perm(len(proxies)) {
			cached[i], cachedProblems[i] = c.ForProxy(snap, proxies[i])
			built = max(built, len(c.outbound))
		}
		if len(c.outbound) > keep {
			t.Fatalf("mesh %d: the Cache holds %d parts, more than %d", mesh, len(c.outbound), keep)
		}
		if keep == len(proxies) && built < len(proxies) {
			shared++
		}
		for i, p := range proxies {
			alone, problems := ForProxy(snap, p)
			if !sameResources(cached[i], alone) || !slices.EqualFunc(cachedProblems[i], problems, sameProblem) {
				t.Fatalf("mesh %d: proxy %s %v got a different config through the Cache than alone", mesh, p.Namespace, p.Labels)
			}
		}
	}
	if shared < 25 {
		t.Fatalf("only %d of 75 meshes shared outbound config between proxies", shared)
	}
}

func TestCacheReleaseDropsItsParts(t *testing.T) {
	snap := model.Build(benchMesh())
	c := NewCache(4)
	p := fxSidecarProxy("ns-0", map[string]string{"app": "a"}, "10.1.0.1")
	first, _ := c.ForProxy(snap, p)
	if len(c.outbound) != 1 {
		t.Fatalf("%d parts after one proxy, want 1", len(c.outbound))
	}
	c.Release()
	if len(c.outbound) != 0 || c.snap != nil {
		t.Fatalf("after Release: %d parts, model held %v", len(c.outbound), c.snap != nil)
	}
	again, _ := c.ForProxy(snap, p)
	if !sameResources(first, again) {
		t.Fatal("a proxy's config differs after the Cache was released")
	}
}

func TestCacheIsSafeForConcurrentProxies(t *testing.T) {
	snap := model.Build(benchMesh())
	c := NewCache(8)
	var wg sync.WaitGroup
	results := make([]Resources, 8)
	for i := range results {
		wg.Go(func() {
			results[i], _ = c.ForProxy(snap, fxSidecarProxy(fmt.Sprintf("ns-%d", i%2), map[string]string{"app": fmt.Sprint(i)}, "10.1.0.1"))
		})
	}
	wg.Wait()
	if len(c.outbound) != 2 {
		t.Fatalf("%d outbound parts built for 8 proxies in 2 namespaces, want 2", len(c.outbound))
	}
	for i, r := range results {
		alone, _ := ForProxy(snap, fxSidecarProxy(fmt.Sprintf("ns-%d", i%2), map[string]string{"app": fmt.Sprint(i)}, "10.1.0.1"))
		if !sameResources(r, alone) {
			t.Fatalf("proxy %d: concurrent cached config differs from its config alone", i)
		}
	}
}

func sameProblem(a, b model.Problem) bool {
	return a.Kind == b.Kind && a.Meta.String() == b.Meta.String() && a.Field == b.Field && a.Message == b.Message
}

func sameResources(a, b Resources) bool {
	if len(a) != len(b) {
		return false
	}
	for typeURL, list := range a {
		if !slices.EqualFunc(list, b[typeURL], func(x, y types.Resource) bool { return proto.Equal(x, y) }) {
			return false
		}
	}
	return true
}

// randomCacheMesh is two application namespaces with a few services, random routing and
// policies, and sidecars of several workloads in each.
func randomCacheMesh(t *testing.T, rng *rand.Rand) (model.Input, []model.Proxy) {
	in := model.Input{RootNamespace: "istio-system"}
	namespaces := []string{"a", "b"}
	for i := range 4 {
		ns := namespaces[i%2]
		name := fmt.Sprintf("svc%d", i)
		port := fxPort("http", 8080, model.ProtocolHTTP)
		if i == 3 {
			port = fxPort("tcp", 5432, model.ProtocolTCP)
		}
		svc := fxService(name, ns, fmt.Sprintf("10.96.0.%d", i+1), []model.Port{port})
		for e, version := range []string{"v1", "v2"} {
			svc.Endpoints = append(svc.Endpoints, &model.Endpoint{Address: fmt.Sprintf("10.0.%d.%d", i, e+1), Labels: map[string]string{"app": name, "version": version}})
		}
		in.Services = append(in.Services, svc)
	}
	pick := func(options ...string) string { return options[rng.IntN(len(options))] }
	for i := range rng.IntN(4) {
		ns, host := pick(namespaces...), pick("svc0", "svc1", "svc2")
		match := ""
		if rng.IntN(3) == 0 {
			match = fmt.Sprintf(`match: [{sourceLabels: {app: %s}}]`, pick("web", "api"))
		}
		in.VirtualServices = append(in.VirtualServices, mkVS(t, ns, fmt.Sprintf("vs%d", i), fmt.Sprintf(`
hosts: [%s.%s.svc.cluster.local]
http:
- %s
  route: [{destination: {host: %s.%s.svc.cluster.local, subset: %s}}]
- route: [{destination: {host: %s.%s.svc.cluster.local}}]`, host, nsOf(host), match, host, nsOf(host), pick("v1", "v2"), host, nsOf(host))))
	}
	for i := range rng.IntN(4) {
		ns, host := pick(namespaces...), pick("svc0", "svc1", "svc2", "svc3")
		selector := ""
		if rng.IntN(2) == 0 {
			selector = fmt.Sprintf("workloadSelector: {matchLabels: {app: %s}}", pick("web", "api"))
		}
		in.DestinationRules = append(in.DestinationRules, mkDR(t, ns, fmt.Sprintf("dr%d", i), fmt.Sprintf(`
host: %s.%s.svc.cluster.local
%s
trafficPolicy: {connectionPool: {tcp: {maxConnections: %d}}, tls: {mode: %s}}
subsets: [{name: v1, labels: {version: v1}}, {name: v2, labels: {version: v2}}]`, host, nsOf(host), selector, 1+rng.IntN(100), pick("ISTIO_MUTUAL", "DISABLE"))))
	}
	switch rng.IntN(3) {
	case 1:
		in.Sidecars = append(in.Sidecars, mkSidecar(t, pick(namespaces...), "default", `egress: [{hosts: ["./*", "istio-system/*"]}]`))
	case 2:
		in.Sidecars = append(in.Sidecars, mkSidecar(t, pick(namespaces...), "web-only", `
workloadSelector: {labels: {app: web}}
egress: [{hosts: ["./*"]}]`))
	}
	if rng.IntN(2) == 0 {
		var selector *typev1beta1.WorkloadSelector
		if rng.IntN(2) == 0 {
			selector = &typev1beta1.WorkloadSelector{MatchLabels: map[string]string{"app": "api"}}
		}
		in.Telemetries = append(in.Telemetries, telAPIPolicy(pick(namespaces...), "logs", 0, &telemetry.Telemetry{
			Selector:      selector,
			AccessLogging: []*telemetry.AccessLogging{{Providers: []*telemetry.ProviderRef{{Name: "envoy"}}}},
		}))
	}
	var proxies []model.Proxy
	for _, ns := range namespaces {
		for _, app := range []string{"web", "api", "batch"} {
			proxies = append(proxies, fxSidecarProxy(ns, map[string]string{"app": app, "version": pick("v1", "v2")}, fmt.Sprintf("10.1.%d.1", len(proxies))))
		}
	}
	return in, proxies
}

func nsOf(host string) string {
	if host == "svc0" || host == "svc2" {
		return "a"
	}
	return "b"
}
