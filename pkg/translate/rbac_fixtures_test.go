package translate

import (
	"encoding/json"
	"testing"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	security "istio.io/api/security/v1beta1"
	"sigs.k8s.io/yaml"

	"loom.dev/loom/internal/golden"
	"loom.dev/loom/pkg/model"
)

func mkAP(t testing.TB, ns, name, spec string) *model.AuthorizationPolicy {
	return &model.AuthorizationPolicy{Meta: mkMeta(ns, name), Spec: mkSpec(t, spec, &security.AuthorizationPolicy{})}
}

// authzOutcome is what the policies applying to one workload produce in
// each context, validated.
type authzOutcome struct {
	sidecar, grpc inboundAuthz
	problems      []model.Problem
}

func authzOutcomeFor(t testing.TB, snap *model.Snapshot, ns string, labels map[string]string) authzOutcome {
	t.Helper()
	var o authzOutcome
	var ps, gps []model.Problem
	o.sidecar, ps = authzFor(snap, fxSidecarProxy(ns, labels, "10.0.0.1"))
	o.grpc, gps = authzFor(snap, model.Proxy{ID: "grpc~" + ns, Kind: model.KindGRPC, Namespace: ns, Labels: labels})
	o.problems = compactProblems(append(append(ps, gps...), snap.Problems()...))
	var all []proto.Message
	for _, f := range o.sidecar.http {
		all = append(all, f)
	}
	for _, f := range o.sidecar.network {
		all = append(all, f)
	}
	for _, f := range o.grpc.http {
		all = append(all, f)
	}
	for _, m := range all {
		if err := validateMessage(m); err != nil {
			t.Errorf("invalid filter: %v", err)
		}
	}
	return o
}

// assertAuthzGolden writes the filters of each context and the problems to
// testdata/rbac/<name>.golden.yaml, for a reviewer to read against Istio's
// documentation.
func assertAuthzGolden(t *testing.T, name string, o authzOutcome) {
	t.Helper()
	doc := map[string]any{}
	section := func(key string, msgs []proto.Message) {
		var items []any
		for _, m := range msgs {
			js, err := protojson.Marshal(m)
			if err != nil {
				t.Fatal(err)
			}
			var v any
			if err := json.Unmarshal(js, &v); err != nil {
				t.Fatal(err)
			}
			items = append(items, v)
		}
		if len(items) > 0 {
			doc[key] = items
		}
	}
	section("sidecarHTTPFilters", asMessages(o.sidecar.http))
	section("sidecarNetworkFilters", asMessages(o.sidecar.network))
	section("grpcServerHTTPFilters", asMessages(o.grpc.http))
	var msgs []string
	for _, p := range o.problems {
		msgs = append(msgs, p.Error())
	}
	if len(msgs) > 0 {
		doc["problems"] = msgs
	}
	out, err := yaml.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	golden.Assert(t, "testdata/rbac/"+name+".golden.yaml", out)
}

func asMessages[T proto.Message](in []T) []proto.Message {
	out := make([]proto.Message, 0, len(in))
	for _, m := range in {
		out = append(out, m)
	}
	return out
}
