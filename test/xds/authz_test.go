package xds

import (
	"context"
	"fmt"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/util/wait"
)

// authzPolicy is an AuthorizationPolicy on the workloads labelled app=<app> in ns.
func authzPolicy(name, app, action, rules string) string {
	return fmt.Sprintf("apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata: {name: %s}\nspec:\n  selector: {matchLabels: {app: %s}}\n  action: %s\n%s", name, app, action, rules)
}

func deletePolicy(t *testing.T, ns, name string) {
	t.Helper()
	u := &unstructured.Unstructured{}
	u.SetAPIVersion("security.istio.io/v1")
	u.SetKind("AuthorizationPolicy")
	u.SetNamespace(ns)
	u.SetName(name)
	if err := k8sClient.Delete(context.Background(), u); err != nil {
		t.Fatal(err)
	}
}

// TestAuthorizationPolicyEnforcedOnGRPCServers: a proxyless gRPC-Go server (with `loom agent`,
// mTLS) enforces AuthorizationPolicy as Istio specifies, for meshed gRPC-Go clients of two
// ServiceAccounts and of another namespace: ALLOW by principal (and everything else denied
// once an ALLOW applies), DENY by namespace, DENY by path (the gRPC method), and AUDIT, which
// never blocks. Each change reaches the server while clients keep calling: asserted as
// eventual arrival, not timed.
func TestAuthorizationPolicyEnforcedOnGRPCServers(t *testing.T) {
	ns := newNamespace(t)
	otherNS := labelledNamespace(t, "other", nil)
	labels := map[string]string{"app": "guarded", "security.istio.io/tlsMode": "istio"}
	srv := startMeshedService(t, network.Hosts[2], ns, "guarded", "server", labels)
	tgt := target(ns, "guarded", srv.port)
	clients := map[string]workload{
		"friend":   startAgent(t, ns, "friend", "friend-0", "127.0.0.1", plane.xdsAddr, map[string]string{"app": "friend"}),
		"stranger": startAgent(t, ns, "stranger", "stranger-0", "127.0.0.1", plane.xdsAddr, map[string]string{"app": "stranger"}),
		"outsider": startAgent(t, otherNS, "outsider", "outsider-0", "127.0.0.1", plane.xdsAddr, map[string]string{"app": "outsider"}),
	}
	// calls runs 5 RPCs from each client and says which were all answered (true) or all
	// refused with PermissionDenied (false); mixed or other outcomes keep the wait going.
	calls := func() (map[string]bool, string) {
		out, detail := map[string]bool{}, ""
		for name, w := range clients {
			s := runSummary(t, meshedClient(w, tgt, "--n", "5", "--wait-for-ready", "--timeout", "10s"))
			detail += fmt.Sprintf("%s: %+v\n", name, s)
			switch {
			case s.OK == 5:
				out[name] = true
			case s.Codes["PermissionDenied"] == 5:
				out[name] = false
			}
		}
		return out, detail
	}
	expect := func(step string, want map[string]bool) {
		t.Helper()
		var detail string
		err := wait.PollUntilContextTimeout(context.Background(), 500*time.Millisecond, 60*time.Second, true, func(context.Context) (bool, error) {
			var got map[string]bool
			got, detail = calls()
			for name, allowed := range want {
				if v, ok := got[name]; !ok || v != allowed {
					return false, nil
				}
			}
			return true, nil
		})
		if err != nil {
			t.Fatalf("%s: want allowed=%v, never seen; last:\n%s", step, want, detail)
		}
	}
	all := map[string]bool{"friend": true, "stranger": true, "outsider": true}
	expect("no policy", all)

	apply(t, ns, authzPolicy("allow-friend", "guarded", "ALLOW", fmt.Sprintf("  rules:\n  - from:\n    - source: {principals: [cluster.local/ns/%s/sa/friend]}\n", ns)))
	expect("ALLOW by principal", map[string]bool{"friend": true, "stranger": false, "outsider": false})
	deletePolicy(t, ns, "allow-friend")
	expect("ALLOW removed", all)

	apply(t, ns, authzPolicy("deny-other-namespace", "guarded", "DENY", fmt.Sprintf("  rules:\n  - from:\n    - source: {namespaces: [%s]}\n", otherNS)))
	expect("DENY by namespace", map[string]bool{"friend": true, "stranger": true, "outsider": false})
	deletePolicy(t, ns, "deny-other-namespace")

	apply(t, ns, authzPolicy("deny-echo", "guarded", "DENY", "  rules:\n  - to:\n    - operation: {paths: [/loom.test.Echo/Echo]}\n"))
	expect("DENY by path", map[string]bool{"friend": false, "stranger": false, "outsider": false})
	apply(t, ns, authzPolicy("deny-echo", "guarded", "DENY", "  rules:\n  - to:\n    - operation: {paths: [/loom.test.Echo/Other]}\n"))
	expect("DENY by another path", all)
	deletePolicy(t, ns, "deny-echo")

	apply(t, ns, authzPolicy("audit-all", "guarded", "AUDIT", "  rules:\n  - {}\n"))
	apply(t, ns, authzPolicy("allow-nothing", "unrelated", "ALLOW", ""))
	expect("AUDIT never blocks (and a policy on other workloads changes nothing)", all)
}
