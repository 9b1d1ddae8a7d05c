package translate

import (
	"testing"
	"unicode/utf8"

	routev3 "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	"github.com/envoyproxy/go-control-plane/pkg/cache/types"
	resourcev3 "github.com/envoyproxy/go-control-plane/pkg/resource/v3"
	"google.golang.org/protobuf/proto"
	networking "istio.io/api/networking/v1alpha3"

	"loom.dev/loom/pkg/model"
)

// fuzzSeeds are valid specs the fuzzer mutates, in their binary form.
var fuzzSeeds = []struct{ vs, dr, se string }{
	{`{hosts: [reviews], http: [{match: [{uri: {prefix: /a}, headers: {x: {regex: "v[0-9]"}}, queryParams: {q: {exact: "1"}}}],
	   route: [{destination: {host: reviews, subset: v1}, weight: 70}, {destination: {host: reviews, subset: v2}, weight: 30}],
	   retries: {attempts: 3, retryOn: "5xx,503", perTryTimeout: 1s}, timeout: 2s,
	   fault: {delay: {fixedDelay: 1s, percentage: {value: 5}}, abort: {grpcStatus: UNAVAILABLE, percentage: {value: 1}}}}]}`,
		reviewsSubsets, `{hosts: [api.example.com], resolution: DNS, ports: [{number: 443, name: tls}]}`},
	{`{hosts: [reviews], http: [{redirect: {uri: /x, authority: y.example.com, redirectCode: 302, port: 8080}}, {directResponse: {status: 503, body: {string: down}}}]}`,
		`{host: reviews, trafficPolicy: {loadBalancer: {consistentHash: {httpCookie: {name: c, ttl: 10s}, ringHash: {minimumRingSize: 64}}},
		  connectionPool: {tcp: {maxConnections: 5, connectTimeout: 1s, tcpKeepalive: {time: 10s}}, http: {http2MaxRequests: 9, idleTimeout: 3s}},
		  outlierDetection: {consecutive5xxErrors: 2, interval: 1s, baseEjectionTime: 3s, maxEjectionPercent: 40},
		  portLevelSettings: [{port: {number: 9080}, loadBalancer: {simple: RANDOM}}]}}`,
		`{hosts: [vm.internal], resolution: STATIC, ports: [{number: 80, name: http, targetPort: 8080}],
		  endpoints: [{address: 10.0.0.1, labels: {v: "1"}, weight: 2, locality: a/b/c}, {address: 10.0.0.2, ports: {http: 9090}}]}`},
	{`{hosts: [reviews], http: [{headers: {request: {set: {a: b}, remove: [c]}}, mirrors: [{destination: {host: ratings}, percentage: {value: 10}}],
	   rewrite: {uriRegexRewrite: {match: "^/(.*)$", rewrite: "/v/\\1"}, authority: z}, corsPolicy: {allowOrigins: [{prefix: "https://"}], maxAge: 60s},
	   route: [{destination: {host: details, port: {number: 8080}}, headers: {response: {add: {d: e}}}}]}]}`,
		`{host: reviews, trafficPolicy: {tls: {mode: SIMPLE, sni: s}}, subsets: [{name: v1, labels: {version: v1}, trafficPolicy: {loadBalancer: {consistentHash: {maglev: {tableSize: 7}, useSourceIp: true}}}}]}`,
		`{hosts: [pool.example.com], resolution: DNS_ROUND_ROBIN, ports: [{number: 80, name: http}], endpoints: [{address: a.example.com}, {address: b.example.com}]}`},
	{`{hosts: [reviews], http: [{match: [{uri: {prefix: /d}}], delegate: {name: leaf}}, {route: [{destination: {host: reviews}}]}]}`,
		`{host: reviews, trafficPolicy: {tls: {mode: MUTUAL, clientCertificate: a, privateKey: b}}}`,
		`{hosts: [db.internal], resolution: NONE, ports: [{number: 5432, name: tcp}]}`},
}

// FuzzTranslate feeds mutated VirtualService, DestinationRule and
// ServiceEntry specs
// through every builder of this package's cluster, route and gRPC code and
// requires that nothing panics, that every output passes validateAll and
// gRPC-Go's extra rules, and that translating twice gives equal output.
func FuzzTranslate(f *testing.F) {
	for _, s := range fuzzSeeds {
		vs, err := proto.Marshal(mkSpec(f, s.vs, &networking.VirtualService{}))
		if err != nil {
			f.Fatal(err)
		}
		dr, err := proto.Marshal(mkSpec(f, s.dr, &networking.DestinationRule{}))
		if err != nil {
			f.Fatal(err)
		}
		se, err := proto.Marshal(mkSpec(f, s.se, &networking.ServiceEntry{}))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(vs, dr, se, "", uint16(0), int64(0), uint16(0))
	}
	leaf := mkVS(f, "default", "leaf", `{http: [{match: [{uri: {prefix: /d/e}}], route: [{destination: {host: ratings}}]}]}`)
	f.Fuzz(func(t *testing.T, vsBytes, drBytes, seBytes []byte, str string, strPick uint16, num int64, numPick uint16) {
		vsSpec, drSpec, seSpec := &networking.VirtualService{}, &networking.DestinationRule{}, &networking.ServiceEntry{}
		if proto.Unmarshal(vsBytes, vsSpec) != nil || proto.Unmarshal(drBytes, drSpec) != nil || proto.Unmarshal(seBytes, seSpec) != nil {
			return
		}
		if !utf8.ValidString(str) {
			return // proto strings are UTF-8; Kubernetes would not store this
		}
		// One string and one number anywhere in the three specs.
		perturbation{str: str, strPick: strPick, num: num, numPick: numPick}.apply(
			vsSpec.ProtoReflect(), drSpec.ProtoReflect(), seSpec.ProtoReflect())
		// Keep the objects aimed at the mesh so mutations exercise routes
		// and clusters rather than being ignored; the DestinationRule also
		// applies to the ServiceEntry's hosts through a second copy.
		vsSpec.Hosts = append(vsSpec.Hosts, "reviews")
		drSpec.Host = "reviews"
		drAll := proto.Clone(drSpec).(*networking.DestinationRule)
		drAll.Host = "*"
		snap := model.Build(model.Input{
			Services:         mkMesh(),
			VirtualServices:  []*model.VirtualService{{Meta: mkMeta("default", "vs"), Spec: vsSpec}, leaf},
			DestinationRules: []*model.DestinationRule{{Meta: mkMeta("default", "dr"), Spec: drSpec}, {Meta: mkMeta("default", "dr-all"), Spec: drAll}},
			ServiceEntries:   []*model.ServiceEntry{{Meta: mkMeta("default", "se"), Spec: seSpec}},
		})
		first := translateEverything(t, snap)
		second := translateEverything(t, snap)
		for typeURL := range first {
			if len(first[typeURL]) != len(second[typeURL]) {
				t.Fatalf("%s: %d resources, then %d", typeURL, len(first[typeURL]), len(second[typeURL]))
			}
			for i := range first[typeURL] {
				a, _ := proto.MarshalOptions{Deterministic: true}.Marshal(first[typeURL][i])
				b, _ := proto.MarshalOptions{Deterministic: true}.Marshal(second[typeURL][i])
				if string(a) != string(b) {
					t.Fatalf("%s %s: translation is not deterministic", typeURL, resourceName(first[typeURL][i]))
				}
			}
		}
	})
}

// translateEverything runs the gRPC translation, the sidecar view of the
// shared builders and the gateway view of httpRoutes, validating each.
func translateEverything(t *testing.T, snap *model.Snapshot) Resources {
	res, _ := ForProxy(snap, mkClient("default", "app=productpage"))
	validateAll(t, res)
	for typeURL, list := range res {
		seen := map[string]bool{}
		for _, r := range list {
			if name := resourceName(r); seen[name] {
				t.Errorf("%s: %s twice", typeURL, name)
			} else {
				seen[name] = true
			}
		}
	}
	checkGRPCClusters(t, res)
	checkGRPCRoutes(t, res)

	sidecar := model.Proxy{ID: "s", Kind: model.KindSidecar, Namespace: "default"}
	clusters, assignments, _ := outboundClusters(snap, sidecar, snap.ServicesFor(sidecar))
	svc := snap.ServiceFor("default", reviewsHost)
	vh, _ := meshVirtualHost(snap, sidecar, svc, svc.Ports[0], []string{reviewsHost})
	gw := &routev3.VirtualHost{Name: "gw", Domains: []string{"*"}}
	for _, b := range snap.VirtualServices("default", model.MeshGateway) {
		routes, _ := httpRoutes(snap, model.Proxy{ID: "g", Kind: model.KindGateway, Namespace: "default"}, b, 0, "default/gw")
		gw.Routes = append(gw.Routes, routes...)
	}
	rc := &routev3.RouteConfiguration{Name: "sidecar", VirtualHosts: []*routev3.VirtualHost{vh, gw}}
	validateAll(t, Resources{
		resourcev3.ClusterType:  clusters,
		resourcev3.EndpointType: assignments,
		resourcev3.RouteType:    []types.Resource{rc},
	})
	return res
}
