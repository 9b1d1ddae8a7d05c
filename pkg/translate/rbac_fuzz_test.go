package translate

import (
	"fmt"
	"strings"
	"testing"

	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	rbacpb "github.com/envoyproxy/go-control-plane/envoy/config/rbac/v3"
	rbachttpv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/rbac/v3"
	hcmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	resourcev3 "github.com/envoyproxy/go-control-plane/pkg/resource/v3"
	"google.golang.org/protobuf/proto"
	security "istio.io/api/security/v1beta1"

	"loom.dev/loom/pkg/model"
)

var authzFuzzSeeds = []string{
	`{}`,
	`{action: DENY, rules: [{}]}`,
	`{rules: [{from: [{source: {principals: ["cluster.local/ns/default/sa/sleep"], notNamespaces: [prod]}}], to: [{operation: {methods: [GET], paths: ["/info*", "/foo/{*}/bar/{**}"], notHosts: ["*.evil.com"], ports: ["8000"]}}]}]}`,
	`{action: DENY, rules: [{from: [{source: {notRequestPrincipals: ["*"], ipBlocks: ["10.0.0.0/8"], notRemoteIpBlocks: ["1.2.3.4"]}}], to: [{operation: {notPaths: ["/healthz"]}}]}]}`,
	`{action: AUDIT, rules: [{when: [{key: "request.headers[x-a]", values: ["v*"]}, {key: "request.auth.claims[groups][a]", values: [g]}, {key: destination.port, notValues: ["9"]}]}]}`,
	`{action: CUSTOM, provider: {name: grpc-authz}, rules: [{from: [{source: {notNamespaces: [foo]}}], to: [{operation: {ports: ["9000"]}}]}]}`,
	`{action: CUSTOM, provider: {name: http-authz}, rules: [{to: [{operation: {methods: [POST], paths: ["/a/{**}"]}}]}]}`,
	`{action: CUSTOM, provider: {name: p}, rules: [{to: [{operation: {paths: ["/admin/*"]}}], when: [{key: connection.sni, values: ["*.x"]}, {key: "experimental.envoy.filters.a.b[c]", values: ["[d]"]}]}]}`,
}

// FuzzAuthorizationPolicy feeds mutated AuthorizationPolicy specs through
// the sidecar, gateway and gRPC server translation: nothing panics, every
// resource passes validateAll, gRPC gets only what gRPC-Go evaluates, and a
// policy that applies but whose rules could not all be translated is
// reported.
func FuzzAuthorizationPolicy(f *testing.F) {
	for _, s := range authzFuzzSeeds {
		b, err := proto.Marshal(mkSpec(f, s, &security.AuthorizationPolicy{}))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b, false)
		f.Add(b, true)
	}
	f.Fuzz(func(t *testing.T, data []byte, root bool) {
		spec := &security.AuthorizationPolicy{}
		if err := proto.Unmarshal(data, spec); err != nil {
			t.Skip()
		}
		ns := "foo"
		if root {
			ns = "istio-system"
		}
		snap := authzMesh(t, &model.AuthorizationPolicy{Meta: mkMeta(ns, "fuzz"), Spec: spec})
		for _, p := range []model.Proxy{
			fxSidecarProxy("foo", workloadLabels, "10.0.0.1"),
			{ID: "grpc~foo", Kind: model.KindGRPC, Namespace: "foo", Labels: workloadLabels, IPs: []string{"10.0.0.1"}},
			fxGatewayProxy(),
		} {
			res, _ := ForProxy(snap, p)
			validateAll(t, res)
			if p.Kind == model.KindGRPC {
				checkGRPCServerRBAC(t, res)
			}
		}
	})
}

// checkGRPCServerRBAC applies what gRPC-Go's RBAC filter accepts
// (internal/xds/rbac, httpfilter/rbac): the matcher kinds it implements and
// no header matcher on :scheme or grpc-*; anything else NACKs the listener.
func checkGRPCServerRBAC(t *testing.T, res Resources) {
	t.Helper()
	for _, r := range res[resourcev3.ListenerType] {
		l := r.(*listenerv3.Listener)
		for _, c := range l.GetFilterChains() {
			for _, f := range c.GetFilters() {
				var hcm hcmv3.HttpConnectionManager
				if err := f.GetTypedConfig().UnmarshalTo(&hcm); err != nil {
					t.Fatal(err)
				}
				for _, hf := range hcm.GetHttpFilters() {
					if !strings.HasPrefix(hf.GetName(), rbacHTTPFilterName) {
						continue
					}
					var cfg rbachttpv3.RBAC
					if err := hf.GetTypedConfig().UnmarshalTo(&cfg); err != nil {
						t.Fatal(err)
					}
					if err := grpcEvaluates(cfg.GetRules()); err != nil {
						t.Errorf("listener %s: %v", l.GetName(), err)
					}
				}
			}
		}
	}
}

func grpcEvaluates(rules *rbacpb.RBAC) error {
	if rules.GetAction() == rbacpb.RBAC_LOG {
		return fmt.Errorf("a LOG engine, which gRPC ignores, was sent")
	}
	for name, p := range rules.GetPolicies() {
		for _, perm := range p.GetPermissions() {
			if err := grpcPermission(perm); err != nil {
				return fmt.Errorf("policy %s: %v", name, err)
			}
		}
		for _, pr := range p.GetPrincipals() {
			if err := grpcPrincipal(pr); err != nil {
				return fmt.Errorf("policy %s: %v", name, err)
			}
		}
	}
	return nil
}

func grpcHeader(name string) error {
	if grpcRejectsHeader(name) {
		return fmt.Errorf("header matcher on %s", name)
	}
	return nil
}

func grpcPermission(p *rbacpb.Permission) error {
	switch r := p.GetRule().(type) {
	case *rbacpb.Permission_AndRules:
		return firstErr(r.AndRules.GetRules(), grpcPermission)
	case *rbacpb.Permission_OrRules:
		return firstErr(r.OrRules.GetRules(), grpcPermission)
	case *rbacpb.Permission_NotRule:
		return grpcPermission(r.NotRule)
	case *rbacpb.Permission_Header:
		return grpcHeader(r.Header.GetName())
	case *rbacpb.Permission_Any, *rbacpb.Permission_UrlPath, *rbacpb.Permission_DestinationIp,
		*rbacpb.Permission_DestinationPort, *rbacpb.Permission_RequestedServerName:
		return nil
	case *rbacpb.Permission_Metadata:
		return fmt.Errorf("metadata permission, which gRPC never matches")
	}
	return fmt.Errorf("unsupported permission %T", p.GetRule())
}

func grpcPrincipal(p *rbacpb.Principal) error {
	switch r := p.GetIdentifier().(type) {
	case *rbacpb.Principal_AndIds:
		return firstErr(r.AndIds.GetIds(), grpcPrincipal)
	case *rbacpb.Principal_OrIds:
		return firstErr(r.OrIds.GetIds(), grpcPrincipal)
	case *rbacpb.Principal_NotId:
		return grpcPrincipal(r.NotId)
	case *rbacpb.Principal_Header:
		return grpcHeader(r.Header.GetName())
	case *rbacpb.Principal_Any, *rbacpb.Principal_Authenticated_, *rbacpb.Principal_DirectRemoteIp,
		*rbacpb.Principal_RemoteIp, *rbacpb.Principal_SourceIp, *rbacpb.Principal_UrlPath, *rbacpb.Principal_Metadata:
		return nil // metadata: JWT claims, which without jwt_authn match nothing in Envoy either
	}
	return fmt.Errorf("unsupported principal %T", p.GetIdentifier())
}

func firstErr[T any](items []T, check func(T) error) error {
	for _, it := range items {
		if err := check(it); err != nil {
			return err
		}
	}
	return nil
}
