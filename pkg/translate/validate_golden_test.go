package translate

import (
	"encoding/json"
	"slices"
	"testing"

	resourcev3 "github.com/envoyproxy/go-control-plane/pkg/resource/v3"
	"google.golang.org/protobuf/encoding/protojson"
	"sigs.k8s.io/yaml"

	"loom.dev/loom/internal/golden"
	"loom.dev/loom/pkg/model"
)

var goldenSections = map[string]string{
	resourcev3.ListenerType: "listeners",
	resourcev3.RouteType:    "routes",
	resourcev3.ClusterType:  "clusters",
	resourcev3.EndpointType: "endpoints",
}

// assertGolden validates res, then compares the chosen resource types (all
// when none is given) and the problems with testdata/<path>.golden.yaml.
// protojson's whitespace is deliberately unstable, so the output goes
// through encoding/json and YAML with sorted keys.
func assertGolden(t *testing.T, path string, res Resources, problems []model.Problem, typeURLs ...string) {
	t.Helper()
	validateAll(t, res)
	doc := map[string]any{}
	var msgs []string
	for _, p := range problems {
		msgs = append(msgs, p.Error())
	}
	if len(msgs) > 0 {
		doc["problems"] = msgs
	}
	for typeURL, list := range res {
		if len(typeURLs) > 0 && !slices.Contains(typeURLs, typeURL) {
			continue
		}
		var items []any
		for _, r := range list {
			js, err := protojson.Marshal(r)
			if err != nil {
				t.Fatalf("%s: %v", typeURL, err)
			}
			var v any
			if err := json.Unmarshal(js, &v); err != nil {
				t.Fatal(err)
			}
			items = append(items, v)
		}
		if len(items) > 0 {
			doc[goldenSections[typeURL]] = items
		}
	}
	out, err := yaml.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	golden.Assert(t, "testdata/"+path+".golden.yaml", out)
}
