package translate

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	cachev3 "github.com/envoyproxy/go-control-plane/pkg/cache/v3"
	resourcev3 "github.com/envoyproxy/go-control-plane/pkg/resource/v3"
	"google.golang.org/protobuf/encoding/protojson"

	// Extensions inside Any fields of sidecar and gateway resources: the
	// imports register them for protojson and validateAll.
	_ "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/listener/http_inspector/v3"
	_ "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/listener/original_dst/v3"
	_ "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/listener/tls_inspector/v3"
	_ "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/tcp_proxy/v3"

	"loom.dev/loom/internal/golden"
	"loom.dev/loom/pkg/model"
)

// assertGoldenProxy validates res and compares it with
// testdata/<dir>/<name>.json. Listeners, routes and secrets are written in
// full; of the clusters and endpoints that outboundClusters builds
// ("outbound|..."), which have their own tests, only the names are, so
// these files change with listener and route layout only.
func assertGoldenProxy(t *testing.T, dir, name string, res Resources, problems []model.Problem) {
	t.Helper()
	validateAll(t, res)
	doc := map[string]any{}
	section := func(key, typeURL string, full func(name string) bool) {
		var items []any
		for _, r := range res[typeURL] {
			n := cachev3.GetResourceName(r)
			if !full(n) {
				items = append(items, n)
				continue
			}
			b, err := protojson.Marshal(r)
			if err != nil {
				t.Fatalf("%s %s: %v", key, n, err)
			}
			items = append(items, json.RawMessage(b))
		}
		if len(items) > 0 {
			doc[key] = items
		}
	}
	always := func(string) bool { return true }
	own := func(n string) bool { return !strings.HasPrefix(n, "outbound|") }
	section("listeners", resourcev3.ListenerType, always)
	section("routes", resourcev3.RouteType, always)
	section("clusters", resourcev3.ClusterType, own)
	section("endpoints", resourcev3.EndpointType, own)
	section("secrets", resourcev3.SecretType, always)
	if len(problems) > 0 {
		var ps []string
		for _, p := range problems {
			ps = append(ps, p.Error())
		}
		doc["problems"] = ps
	}
	out, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	golden.Assert(t, filepath.Join("testdata", dir, name+".json"), append(out, '\n'))
}
