package discovery

import (
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/durationpb"
	networking "istio.io/api/networking/v1alpha3"
	networkingv1 "istio.io/client-go/pkg/apis/networking/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/yaml"
)

func object(t *testing.T, doc string) map[string]any {
	t.Helper()
	var m map[string]any
	if err := yaml.Unmarshal([]byte(doc), &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func TestDecodeIstioNamesTheBadField(t *testing.T) {
	for _, tc := range []struct {
		name, doc, field, message string
		into                      runtime.Object
	}{{
		name: "bad duration",
		doc: `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: a, namespace: b}
spec:
  hosts: [x]
  http:
  - route: [{destination: {host: x}}]
  - timeout: banana
    route: [{destination: {host: x}}]`,
		field: "spec.http[1].timeout", message: `invalid duration "banana"`, into: &networkingv1.VirtualService{},
	}, {
		name: "bad duration, deep",
		doc: `apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: a, namespace: b}
spec: {host: x, trafficPolicy: {outlierDetection: {consecutive5xxErrors: 3, interval: banana}}}`,
		field: "spec.trafficPolicy.outlierDetection.interval", message: `invalid duration "banana"`, into: &networkingv1.DestinationRule{},
	}, {
		name: "wrong type",
		doc: `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: a, namespace: b}
spec: {hosts: x}`,
		field: "spec.hosts", message: "cannot unmarshal string", into: &networkingv1.VirtualService{},
	}, {
		name: "unknown enum value",
		doc: `apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: a, namespace: b}
spec: {host: x, subsets: [{name: v1, labels: {app.kubernetes.io/version: v1}, trafficPolicy: {tls: {mode: BANANA}}}]}`,
		field: "spec.subsets[0].trafficPolicy.tls.mode", message: `unknown value "\"BANANA\""`, into: &networkingv1.DestinationRule{},
	}, {
		name: "map key with dots",
		doc: `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: a, namespace: b}
spec: {hosts: [x], http: [{match: [{headers: {x.y: {exact: 3}}}]}]}`,
		field: "spec.http[0].match[0].headers[x.y].exact", into: &networkingv1.VirtualService{},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			field, err := decodeIstio(object(t, tc.doc), tc.into)
			if err == nil {
				t.Fatal("decoded without error")
			}
			if field != tc.field {
				t.Errorf("field %q, want %q (error %v)", field, tc.field, err)
			}
			if !strings.Contains(err.Error(), tc.message) {
				t.Errorf("error %q does not say %q", err, tc.message)
			}
		})
	}
}

func TestDecodeIstioDecodesAsTheTypedClient(t *testing.T) {
	var vs networkingv1.VirtualService
	field, err := decodeIstio(object(t, `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: reviews, namespace: shop, generation: 3, uid: 0a1b}
spec:
  hosts: [reviews]
  unknownField: kept out
  http:
  - match: [{uri: {prefix: /v2}}]
    timeout: 1.5s
    retries: {attempts: 3, retryOn: 5xx}
    route:
    - destination: {host: reviews, subset: v2, port: {number: 9080}}
      weight: 100
  - route: [{destination: {host: reviews, subset: v1}}]
    mirrorPercentage: {value: 12.5}`), &vs)
	if err != nil {
		t.Fatalf("decode: %v (field %q)", err, field)
	}
	if vs.Name != "reviews" || vs.Namespace != "shop" || vs.Generation != 3 || vs.UID != "0a1b" {
		t.Errorf("metadata %+v", vs.ObjectMeta)
	}
	want := &networking.VirtualService{
		Hosts: []string{"reviews"},
		Http: []*networking.HTTPRoute{{
			Match:   []*networking.HTTPMatchRequest{{Uri: &networking.StringMatch{MatchType: &networking.StringMatch_Prefix{Prefix: "/v2"}}}},
			Timeout: durationpb.New(1500e6),
			Retries: &networking.HTTPRetry{Attempts: 3, RetryOn: "5xx"},
			Route: []*networking.HTTPRouteDestination{{
				Destination: &networking.Destination{Host: "reviews", Subset: "v2", Port: &networking.PortSelector{Number: 9080}},
				Weight:      100,
			}},
		}, {
			Route:            []*networking.HTTPRouteDestination{{Destination: &networking.Destination{Host: "reviews", Subset: "v1"}}},
			MirrorPercentage: &networking.Percent{Value: 12.5},
		}},
	}
	if !proto.Equal(&vs.Spec, want) {
		t.Errorf("spec\n%v\nwant\n%v", &vs.Spec, want)
	}
}

// Two members of one oneof decode on their own; only the object as a
// whole names where to look.
func TestBadFieldStopsAtTheSmallestFailingPart(t *testing.T) {
	obj := map[string]any{"apiVersion": "v", "kind": "k", "spec": map[string]any{"a": 1, "b": map[string]any{"c": 1, "d": 2}}}
	fails := func(m map[string]any) bool {
		b, _ := m["spec"].(map[string]any)["b"].(map[string]any)
		return b != nil && b["c"] != nil && b["d"] != nil
	}
	if got := badField(obj, fails); got != "spec.b" {
		t.Errorf("badField = %q, want spec.b", got)
	}
}
