package translate

import (
	"strings"
	"testing"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	networking "istio.io/api/networking/v1alpha3"
	"sigs.k8s.io/yaml"

	"loom.dev/loom/pkg/model"
)

// Fixtures for the cluster, route and gRPC tests. Names start with mk so
// they do not collide with other test files of the package.

// mkService is a Kubernetes Service in ns with the given ports and
// endpoints.
func mkService(name, ns string, ports []model.Port, eps ...*model.Endpoint) *model.Service {
	model.SortEndpoints(eps)
	return &model.Service{
		Hostname: model.ServiceHostname(name, ns, model.DefaultDomainSuffix), Namespace: ns,
		Source: model.SourceKubernetes, Name: name, Ports: ports, Endpoints: eps,
		Addresses: []string{"10.96.0.1"}, Selector: map[string]string{"app": name},
	}
}

// mkPorts turns "name:number" pairs into ports, the protocol following
// Istio's port naming.
func mkPorts(specs ...string) []model.Port {
	var out []model.Port
	for _, s := range specs {
		name, num, _ := strings.Cut(s, ":")
		n := uint32(0)
		for _, c := range num {
			n = n*10 + uint32(c-'0')
		}
		out = append(out, model.Port{Name: name, Number: n, Protocol: model.ProtocolFromPortName(name)})
	}
	return out
}

// mkEndpoint is a healthy endpoint with "key=value" labels.
func mkEndpoint(addr string, labels ...string) *model.Endpoint {
	ep := &model.Endpoint{Address: addr, Labels: map[string]string{}}
	for _, l := range labels {
		k, v, _ := strings.Cut(l, "=")
		ep.Labels[k] = v
	}
	return ep
}

// mkSpec reads an Istio spec written in YAML, as users write it.
func mkSpec[T proto.Message](t testing.TB, src string, into T) T {
	t.Helper()
	js, err := yaml.YAMLToJSON([]byte(src))
	if err != nil {
		t.Fatalf("fixture YAML: %v", err)
	}
	if err := protojson.Unmarshal(js, into); err != nil {
		t.Fatalf("fixture %T: %v\n%s", into, err, src)
	}
	return into
}

func mkMeta(ns, name string) model.Meta { return model.Meta{Name: name, Namespace: ns} }

func mkVS(t testing.TB, ns, name, spec string) *model.VirtualService {
	return &model.VirtualService{Meta: mkMeta(ns, name), Spec: mkSpec(t, spec, &networking.VirtualService{})}
}

func mkDR(t testing.TB, ns, name, spec string) *model.DestinationRule {
	return &model.DestinationRule{Meta: mkMeta(ns, name), Spec: mkSpec(t, spec, &networking.DestinationRule{})}
}

func mkSE(t testing.TB, ns, name, spec string) *model.ServiceEntry {
	return &model.ServiceEntry{Meta: mkMeta(ns, name), Spec: mkSpec(t, spec, &networking.ServiceEntry{})}
}

func mkSidecar(t testing.TB, ns, name, spec string) *model.Sidecar {
	return &model.Sidecar{Meta: mkMeta(ns, name), Spec: mkSpec(t, spec, &networking.Sidecar{})}
}

// mkClient is a proxyless gRPC client in ns.
func mkClient(ns string, labels ...string) model.Proxy {
	p := model.Proxy{ID: "client." + ns, Kind: model.KindGRPC, Namespace: ns, Labels: map[string]string{}}
	for _, l := range labels {
		k, v, _ := strings.Cut(l, "=")
		p.Labels[k] = v
	}
	return p
}

// mkMesh is a small mesh: reviews (v1, v2, v3 in two zones), ratings and a
// two-port details service, all in namespace "default".
func mkMesh() []*model.Service {
	v := func(addr, version, zone string) *model.Endpoint {
		ep := mkEndpoint(addr, "app=reviews", "version="+version)
		ep.Locality = model.Locality{Region: "eu", Zone: zone}
		return ep
	}
	return []*model.Service{
		mkService("reviews", "default", mkPorts("http:9080"),
			v("10.1.0.1", "v1", "a"), v("10.1.0.2", "v2", "b"), v("10.1.0.3", "v3", "a")),
		mkService("ratings", "default", mkPorts("grpc:9090"), mkEndpoint("10.1.1.1", "app=ratings")),
		mkService("details", "default", mkPorts("http:8080", "grpc-admin:9000"), mkEndpoint("10.1.2.1", "app=details")),
	}
}
