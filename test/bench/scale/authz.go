package main

import (
	"context"
	"fmt"
	"path/filepath"
	"time"

	security "istio.io/api/security/v1beta1"
	typev1beta1 "istio.io/api/type/v1beta1"
	securityv1 "istio.io/client-go/pkg/apis/security/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"loom.dev/loom/test/bench/benchkit"
)

// authzPoliciesPerTeam is how many policies one team namespace holds on
// average: a large mesh has many namespaces with a few dozen policies each.
const authzPoliciesPerTeam = 25

// authzTeams is how many team namespaces n policies are spread over (the
// benchmark's namespace holds a share too).
func authzTeams(n int) int { return max(1, n/authzPoliciesPerTeam) }

func authzTeamNamespace(k int) string { return fmt.Sprintf("authz-team-%d", k) }

// authzNamespaces are the namespaces that hold policies: the benchmark's
// first, then the teams'.
func authzNamespaces(n int) []string {
	out := []string{benchNamespace}
	for k := range authzTeams(n) {
		out = append(out, authzTeamNamespace(k))
	}
	return out
}

// authzPolicies are n AuthorizationPolicies as a large mesh has them, in a
// fixed order so that every run gets the same ones, dealt round robin over
// authzNamespaces. Each namespace's first policy is namespace-wide (ALLOW
// from its own namespace, the root namespace and the benchmark's); the
// others select one of the namespace's workloads (authzWorkloads) in turn,
// and in alternate rounds ALLOW a few principals to GET and POST on the
// service port or DENY admin and debug paths on it, so each workload
// carries a handful of both. Every policy selects workloads that simulated
// proxies are: the benchmark's clients (app: client) or a workload proxy
// (workloadproxy.go).
func authzPolicies(n int) []*securityv1.AuthorizationPolicy {
	namespaces := authzNamespaces(n)
	workloads := map[string][]authzWorkload{}
	for _, w := range authzWorkloads(n) {
		workloads[w.namespace] = append(workloads[w.namespace], w)
	}
	perNamespace := map[string]int{}
	out := make([]*securityv1.AuthorizationPolicy, 0, n)
	for i := range n {
		ns := namespaces[i%len(namespaces)]
		j := perNamespace[ns]
		perNamespace[ns]++
		p := &securityv1.AuthorizationPolicy{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("authz-%d", i), Namespace: ns}}
		if j == 0 {
			p.Spec = namespaceWideAllow(ns)
		} else {
			app := workloads[ns][(j-1)%len(workloads[ns])].app
			if ((j-1)/len(workloads[ns]))%2 == 0 {
				p.Spec = allowPrincipals(app, i)
			} else {
				p.Spec = denyPaths(app, "/admin/*", "/debug/*", "/internal")
			}
		}
		out = append(out, p)
	}
	return out
}

func selectApp(app string) *typev1beta1.WorkloadSelector {
	return &typev1beta1.WorkloadSelector{MatchLabels: map[string]string{"app": app}}
}

func namespaceWideAllow(ns string, extra ...string) security.AuthorizationPolicy {
	return security.AuthorizationPolicy{
		Action: security.AuthorizationPolicy_ALLOW,
		Rules: []*security.Rule{{From: []*security.Rule_From{{Source: &security.Source{
			Namespaces: uniq(append([]string{ns, rootNamespace, benchNamespace}, extra...)...),
		}}}}},
	}
}

// allowPrincipals lets three callers' service accounts GET and POST on the
// service port of the workloads labelled app.
func allowPrincipals(app string, i int) security.AuthorizationPolicy {
	var principals []string
	for k := range 3 {
		principals = append(principals, fmt.Sprintf("cluster.local/ns/%s/sa/caller-%d", benchNamespace, (i+k)%50))
	}
	return security.AuthorizationPolicy{
		Selector: selectApp(app),
		Action:   security.AuthorizationPolicy_ALLOW,
		Rules: []*security.Rule{{
			From: []*security.Rule_From{{Source: &security.Source{Principals: principals}}},
			To: []*security.Rule_To{{Operation: &security.Operation{
				Methods: []string{"GET", "POST"}, Ports: []string{fmt.Sprint(servicePort)},
			}}},
		}},
	}
}

// denyPaths denies paths on the service port (named, so the rule does not
// deny all TCP traffic) of the workloads labelled app.
func denyPaths(app string, paths ...string) security.AuthorizationPolicy {
	return security.AuthorizationPolicy{
		Selector: selectApp(app),
		Action:   security.AuthorizationPolicy_DENY,
		Rules: []*security.Rule{{To: []*security.Rule_To{{Operation: &security.Operation{
			Paths: paths, Ports: []string{fmt.Sprint(servicePort)},
		}}}}},
	}
}

func uniq(xs ...string) []string {
	var out []string
	seen := map[string]bool{}
	for _, x := range xs {
		if !seen[x] {
			seen[x] = true
			out = append(out, x)
		}
	}
	return out
}

// createAuthzPolicies creates n policies (the namespaces exist: see
// setupAuthzWorkloads).
func (w *workload) createAuthzPolicies(ctx context.Context, n int, logf func(string, ...any)) error {
	start := time.Now()
	policies := authzPolicies(n)
	err := benchkit.Parallel(ctx, len(policies), 32, func(ctx context.Context, i int) error {
		if err := w.c.Create(ctx, policies[i]); err != nil && !apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("AuthorizationPolicy %s/%s: %w", policies[i].Namespace, policies[i].Name, err)
		}
		return nil
	})
	if err != nil {
		return err
	}
	logf("%d AuthorizationPolicies in %d namespaces created in %.1fs", n, len(authzNamespaces(n)), time.Since(start).Seconds())
	return nil
}

// authzPlane is loom again, run once the AuthorizationPolicies are in place:
// loom_authz, or loom_delta_authz with delta xDS.
func (d *driver) authzPlane(delta bool) (*controlPlane, error) {
	cp, err := d.loomPlane(delta)
	if err != nil {
		return nil, err
	}
	cp.Name += "_authz"
	cp.LogPath = filepath.Join(d.dir, cp.Name+".log")
	return cp, nil
}
