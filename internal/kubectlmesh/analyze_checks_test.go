package kubectlmesh

import (
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// inputOf is an analysis input with the Services (hostnames), the workloads' labels in
// namespace demo, the Secrets (namespace/name) and the Istio objects of yamlDocs.
func inputOf(t *testing.T, services []string, workloads []map[string]string, secrets []string, yamlDocs string) *analysisInput {
	t.Helper()
	in := &analysisInput{domainSuffix: "cluster.local", rootNamespace: "istio-system", services: map[string]bool{},
		workloads: map[string][]map[string]string{"demo": workloads}, secrets: map[string]bool{}}
	for _, s := range services {
		in.services[s] = true
	}
	for _, s := range secrets {
		in.secrets[s] = true
	}
	ms, err := decodeManifests(strings.NewReader(yamlDocs), "test.yaml", "demo")
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range ms {
		if msg := in.add(m.Unstructured); msg != nil {
			t.Fatalf("decoding %s: %v", describe(m.Unstructured), msg)
		}
	}
	in.sort()
	return in
}

// found is each message as "CODE Object field".
func found(msgs []message) []string {
	out := make([]string, len(msgs))
	for i, m := range msgs {
		out[i] = m.Code + " " + m.Object + " " + m.Field
	}
	return out
}

func assertFound(t *testing.T, name string, got []message, want ...string) {
	t.Helper()
	g := found(got)
	if strings.Join(g, "\n") != strings.Join(want, "\n") {
		t.Errorf("%s: found\n  %s\nwant\n  %s", name, strings.Join(g, "\n  "), strings.Join(want, "\n  "))
	}
}

const (
	reviewsHost = "reviews.demo.svc.cluster.local"
	reviewsDR   = `
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: reviews}
spec: {host: reviews, subsets: [{name: v1, labels: {version: v1}}]}
`
)

func vsYAML(name, hosts, gateways, dest string) string {
	return "---\napiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: " + name + "}\nspec:\n  hosts: " + hosts +
		"\n  gateways: " + gateways + "\n  http:\n  - route:\n    - destination: " + dest + "\n"
}

func TestCheckVirtualServiceReferences(t *testing.T) {
	for _, tc := range []struct {
		name, yaml string
		want       []string
	}{
		{"known host and subset", reviewsDR + vsYAML("r", "[reviews]", "[]", "{host: reviews, subset: v1}"), nil},
		{"fully qualified host", reviewsDR + vsYAML("r", "[reviews]", "[]", "{host: "+reviewsHost+"}"), nil},
		{"unknown host", vsYAML("r", "[reviews]", "[]", "{host: ratings}"),
			[]string{"IST0101 VirtualService demo/r spec.http[0].route[0].destination.host"}},
		{"unknown subset", reviewsDR + vsYAML("r", "[reviews]", "[]", "{host: reviews, subset: v2}"),
			[]string{"IST0101 VirtualService demo/r spec.http[0].route[0].destination.subset"}},
		{"subset without any DestinationRule", vsYAML("r", "[reviews]", "[]", "{host: reviews, subset: v1}"),
			[]string{"IST0101 VirtualService demo/r spec.http[0].route[0].destination.subset"}},
		{"wildcard destination is not checked", vsYAML("r", "[reviews]", "[]", "{host: '*.example.com'}"), nil},
		{"unknown gateway", vsYAML("r", "[reviews]", "[mesh, gw]", "{host: reviews}"),
			[]string{"IST0101 VirtualService demo/r spec.gateways[1]"}},
		{"ServiceEntry host", "apiVersion: networking.istio.io/v1\nkind: ServiceEntry\nmetadata: {name: ext}\nspec: {hosts: ['*.example.com'], ports: [{number: 443, name: tls, protocol: TLS}]}\n" +
			vsYAML("r", "[api.example.com]", "[]", "{host: api.example.com}"), nil},
	} {
		in := inputOf(t, []string{reviewsHost}, nil, nil, tc.yaml)
		got := checkVirtualServiceReferences(in)
		assertFound(t, tc.name, got, tc.want...)
		for _, m := range got {
			if m.Level != levelError || !strings.HasPrefix(m.Message, "Referenced ") {
				t.Errorf("%s: message %+v, want an Error saying what is not found", tc.name, m)
			}
		}
	}
}

func TestCheckVirtualServiceConflicts(t *testing.T) {
	for _, tc := range []struct {
		name, yaml string
		want       []string
	}{
		{"one per host", vsYAML("a", "[reviews]", "[]", "{host: reviews}") + vsYAML("b", "[ratings]", "[]", "{host: reviews}"), nil},
		{"short and long name of one host on the mesh gateway",
			vsYAML("a", "[reviews]", "[]", "{host: reviews}") + vsYAML("b", "["+reviewsHost+"]", "[mesh]", "{host: reviews}"),
			[]string{"IST0109 VirtualService demo/a spec.hosts", "IST0109 VirtualService demo/b spec.hosts"}},
		{"same host on different gateways", vsYAML("a", "[x.example.com]", "[gw1]", "{host: reviews}") + vsYAML("b", "[x.example.com]", "[gw2]", "{host: reviews}"), nil},
		{"same host on one gateway", vsYAML("a", "[x.example.com]", "[gw]", "{host: reviews}") + vsYAML("b", "[x.example.com]", "[demo/gw]", "{host: reviews}"),
			[]string{"LOOM0001 VirtualService demo/a spec.hosts", "LOOM0001 VirtualService demo/b spec.hosts"}},
	} {
		assertFound(t, tc.name, checkVirtualServiceConflicts(inputOf(t, nil, nil, nil, tc.yaml)), tc.want...)
	}
}

func TestCheckDestinationRuleHosts(t *testing.T) {
	yaml := reviewsDR + "---\napiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata: {name: details}\nspec: {host: details}\n" +
		"---\napiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata: {name: all}\nspec: {host: '*.svc.cluster.local'}\n"
	assertFound(t, "DestinationRules", checkDestinationRuleHosts(inputOf(t, []string{reviewsHost}, nil, nil, yaml)),
		"IST0101 DestinationRule demo/details spec.host")
}

func TestCheckPolicySelectors(t *testing.T) {
	yaml := `
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: selects}
spec: {selector: {matchLabels: {app: reviews}}}
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: namespace-wide}
spec: {}
---
apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: {name: nothing}
spec: {selector: {matchLabels: {app: reviews, version: v9}}}
---
apiVersion: security.istio.io/v1
kind: RequestAuthentication
metadata: {name: other-namespace, namespace: prod}
spec: {selector: {matchLabels: {app: reviews}}}
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: mesh-wide, namespace: istio-system}
spec: {selector: {matchLabels: {app: reviews}}}
`
	got := checkPolicySelectors(inputOf(t, nil, []map[string]string{{"app": "reviews", "version": "v1"}}, nil, yaml))
	assertFound(t, "policies", got,
		"IST0127 PeerAuthentication demo/nothing spec.selector.matchLabels",
		"IST0127 RequestAuthentication prod/other-namespace spec.selector.matchLabels")
	if len(got) > 0 && (got[0].Level != levelWarning || !strings.Contains(got[0].Message, "app=reviews,version=v9")) {
		t.Errorf("message %+v, want a warning naming the labels", got[0])
	}
}

func TestCheckGatewayCredentials(t *testing.T) {
	yaml := `
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: gw}
spec:
  selector: {istio: ingressgateway}
  servers:
  - {port: {number: 443, name: a, protocol: HTTPS}, hosts: ['*'], tls: {mode: SIMPLE, credentialName: here}}
  - {port: {number: 444, name: b, protocol: HTTPS}, hosts: ['*'], tls: {mode: SIMPLE, credentialName: elsewhere}}
  - {port: {number: 80, name: c, protocol: HTTP}, hosts: ['*']}
`
	in := inputOf(t, nil, []map[string]string{{"istio": "ingressgateway"}}, []string{"demo/here", "prod/elsewhere"}, yaml)
	assertFound(t, "gateway in demo", checkGatewayCredentials(in), "IST0101 Gateway demo/gw spec.servers[1].tls.credentialName")
	// No workload selected: a Secret of that name anywhere will do.
	in = inputOf(t, nil, nil, []string{"demo/here", "prod/elsewhere"}, yaml)
	assertFound(t, "no gateway workload", checkGatewayCredentials(in))
	in = inputOf(t, nil, nil, nil, yaml)
	assertFound(t, "no Secrets", checkGatewayCredentials(in),
		"IST0101 Gateway demo/gw spec.servers[0].tls.credentialName", "IST0101 Gateway demo/gw spec.servers[1].tls.credentialName")
}

func TestUndecodableObjectIsAMessage(t *testing.T) {
	in := &analysisInput{}
	u := &unstructured.Unstructured{Object: map[string]any{"apiVersion": "networking.istio.io/v1", "kind": "VirtualService",
		"metadata": map[string]any{"name": "x", "namespace": "demo"}, "spec": map[string]any{"hosts": "not-a-list"}}}
	m := in.add(u)
	if m == nil || m.Code != "IST0106" || m.Object != "VirtualService demo/x" {
		t.Errorf("message %+v, want IST0106 about VirtualService demo/x", m)
	}
}
