package discovery

import (
	"strings"
	"testing"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	"github.com/google/go-cmp/cmp"
	"google.golang.org/protobuf/types/known/structpb"

	"loom.dev/loom/pkg/model"
)

func node(t *testing.T, id string, meta map[string]any) *corev3.Node {
	t.Helper()
	s, err := structpb.NewStruct(meta)
	if err != nil {
		t.Fatal(err)
	}
	return &corev3.Node{Id: id, Metadata: s}
}

func TestParseNode(t *testing.T) {
	for _, tc := range []struct {
		name string
		node *corev3.Node
		want model.Proxy
	}{
		{"istio sidecar id", node(t, "sidecar~10.1.0.5~reviews-1.web~web.svc.cluster.local", map[string]any{"LABELS": map[string]any{"app": "reviews"}}),
			model.Proxy{ID: "sidecar~10.1.0.5~reviews-1.web~web.svc.cluster.local", Kind: model.KindSidecar, Namespace: "web", IPs: []string{"10.1.0.5"}, Labels: map[string]string{"app": "reviews"}}},
		{"gateway", node(t, "router~10.1.0.6~ingress-1.istio-system~istio-system.svc.cluster.local", nil),
			model.Proxy{ID: "router~10.1.0.6~ingress-1.istio-system~istio-system.svc.cluster.local", Kind: model.KindGateway, Namespace: "istio-system", IPs: []string{"10.1.0.6"}}},
		{"proxyless grpc with metadata only", node(t, "client-7", map[string]any{"GENERATOR": "grpc", "NAMESPACE": "demo", "INSTANCE_IPS": "10.2.0.1,fd00::1"}),
			model.Proxy{ID: "client-7", Kind: model.KindGRPC, Namespace: "demo", IPs: []string{"10.2.0.1", "fd00::1"}}},
		{"revision from metadata", node(t, "sidecar~10.1.0.7~a-1.web~web.svc.cluster.local", map[string]any{"ISTIO_REVISION": "canary", "LABELS": map[string]any{"istio.io/rev": "stable"}}),
			model.Proxy{ID: "sidecar~10.1.0.7~a-1.web~web.svc.cluster.local", Kind: model.KindSidecar, Namespace: "web", IPs: []string{"10.1.0.7"}, Labels: map[string]string{"istio.io/rev": "stable"}, Revision: "canary"}},
		{"revision from the pod label", node(t, "sidecar~10.1.0.8~a-2.web~web.svc.cluster.local", map[string]any{"LABELS": map[string]any{"istio.io/rev": "stable"}}),
			model.Proxy{ID: "sidecar~10.1.0.8~a-2.web~web.svc.cluster.local", Kind: model.KindSidecar, Namespace: "web", IPs: []string{"10.1.0.8"}, Labels: map[string]string{"istio.io/rev": "stable"}, Revision: "stable"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseNode(tc.node)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestParseNodeErrorsNameTheNode(t *testing.T) {
	for _, tc := range []struct {
		node *corev3.Node
		want string
	}{
		{&corev3.Node{}, "no id"},
		{node(t, "client-1", nil), `node "client-1": no namespace`},
		{node(t, "waypoint~1.2.3.4~a.b~b.svc", nil), `proxy type "waypoint"`},
		{node(t, "c~x", map[string]any{"NAMESPACE": "a", "LABELS": "app=x"}), `metadata LABELS: not an object`},
		{node(t, "c~x", map[string]any{"NAMESPACE": "a", "LABELS": map[string]any{"n": 1}}), `label "n" is not a string`},
	} {
		_, err := ParseNode(tc.node)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("ParseNode(%v) error = %v, want it to contain %q", tc.node, err, tc.want)
		}
	}
}

func TestViewKeySharesReplicas(t *testing.T) {
	a := model.Proxy{Kind: model.KindGRPC, Namespace: "demo", Labels: map[string]string{"app": "c", "v": "1"}, IPs: []string{"10.0.0.1"}}
	b := model.Proxy{Kind: model.KindGRPC, Namespace: "demo", Labels: map[string]string{"v": "1", "app": "c"}, IPs: []string{"10.0.0.2"}}
	if viewKey(a, false) != viewKey(b, false) {
		t.Errorf("replicas of one client must share a view: %q vs %q", viewKey(a, false), viewKey(b, false))
	}
	if viewKey(a, true) == viewKey(b, true) {
		t.Error("two gRPC servers must not share a view: their server listeners name their own addresses")
	}
	b.Namespace = "other"
	if viewKey(a, false) == viewKey(b, false) {
		t.Error("namespaces must not share a view")
	}
}
