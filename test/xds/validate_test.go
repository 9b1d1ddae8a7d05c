package xds

import (
	"context"
	"net"
	"os/exec"
	"strings"
	"testing"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"loom.dev/loom/pkg/render"
)

// validatorConfig is the control-plane chart's ValidatingWebhookConfiguration pointed at url,
// and at the namespace ns alone (other tests create invalid config on purpose).
func validatorConfig(t *testing.T, url string, caBundle []byte, ns string) *admissionregistrationv1.ValidatingWebhookConfiguration {
	t.Helper()
	r, err := render.New()
	if err != nil {
		t.Fatal(err)
	}
	objs, err := r.Render(render.ControlPlane, render.Release{Name: "test", Namespace: "istio-system"}, map[string]any{})
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range objs {
		if o.GetKind() != "ValidatingWebhookConfiguration" {
			continue
		}
		cfg := &admissionregistrationv1.ValidatingWebhookConfiguration{}
		if err := runtime.DefaultUnstructuredConverter.FromUnstructured(o.Object, cfg); err != nil {
			t.Fatal(err)
		}
		for i := range cfg.Webhooks {
			cfg.Webhooks[i].ClientConfig = admissionregistrationv1.WebhookClientConfig{URL: &url, CABundle: caBundle}
			cfg.Webhooks[i].NamespaceSelector = &metav1.LabelSelector{MatchLabels: map[string]string{"kubernetes.io/metadata.name": ns}}
		}
		cfg.Name += "-" + ns
		return cfg
	}
	t.Fatal("the control-plane chart renders no ValidatingWebhookConfiguration")
	return nil
}

// kubectlApply runs `kubectl apply` (with extra args) on the manifest in namespace ns.
func kubectlApply(t *testing.T, ns, manifest string, args ...string) (string, error) {
	t.Helper()
	cmd := exec.Command(cluster.Kubectl(), append([]string{"--kubeconfig", cluster.KubeconfigPath, "-n", ns, "apply", "-f", "-"}, args...)...)
	cmd.Stdin = strings.NewReader(manifest)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// TestConfigValidation registers the chart's validating webhook with the real apiserver,
// served by `loom discovery`: invalid Istio config is refused by `kubectl apply` (and by
// `--dry-run=server`) with the object and the field named; a VirtualService from Istio's docs is
// admitted.
func TestConfigValidation(t *testing.T) {
	ns := newNamespace(t)
	url := "https://" + net.JoinHostPort("localhost", portOf(plane.webhookAddr)) + "/validate"
	cfg := validatorConfig(t, url, waitTrustBundle(t, "istio-system"), ns)
	create(t, cfg)
	t.Cleanup(func() { _ = k8sClient.Delete(context.Background(), cfg) })

	for _, tc := range []struct {
		name, manifest string
		want           []string // in kubectl's error
	}{
		{"a regular expression RE2 refuses", `
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: regex}
spec:
  hosts: [reviews]
  http:
  - match: [{uri: {regex: "(unclosed"}}]
    route: [{destination: {host: reviews}}]
`, []string{`VirtualService "regex" is invalid`, "spec.http[0].match[0].uri.regex", "invalid RE2 regular expression"}},
		{"duplicate subset names", `
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: subsets}
spec:
  host: reviews
  subsets:
  - {name: v1, labels: {version: v1}}
  - {name: v1, labels: {version: v2}}
`, []string{`DestinationRule "subsets" is invalid`, "spec.subsets[1].name", "duplicate subset name"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, args := range [][]string{{"--dry-run=server"}, nil} {
				out, err := kubectlApply(t, ns, tc.manifest, args...)
				if err == nil {
					t.Fatalf("kubectl apply %v admitted it:\n%s", args, out)
				}
				for _, w := range tc.want {
					if !strings.Contains(out, w) {
						t.Errorf("kubectl apply %v said %q, want it to name %q", args, out, w)
					}
				}
			}
		})
	}

	t.Run("weights that do not add up to 100 are admitted with a warning, as Istio normalizes them", func(t *testing.T) {
		out, err := kubectlApply(t, ns, `
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: split}
spec:
  hosts: [reviews]
  http:
  - route:
    - {destination: {host: reviews, subset: v1}, weight: 50}
    - {destination: {host: reviews, subset: v2}, weight: 40}
`, "--dry-run=server")
		if err != nil || !strings.Contains(out, "Warning: VirtualService "+ns+"/split: spec.http[0].route: weights add up to 90") {
			t.Fatalf("kubectl apply: %v\n%s\nwant it admitted with a warning naming the field", err, out)
		}
	})

	t.Run("a VirtualService from Istio's docs is admitted", func(t *testing.T) {
		out, err := kubectlApply(t, ns, `
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: reviews-route}
spec:
  hosts: [reviews.prod.svc.cluster.local]
  http:
  - name: reviews-v2-routes
    match:
    - uri: {prefix: /wpcatalog}
    - uri: {prefix: /consumercatalog}
    rewrite: {uri: /newcatalog}
    route:
    - destination: {host: reviews.prod.svc.cluster.local, subset: v2}
  - name: reviews-v1-route
    route:
    - destination: {host: reviews.prod.svc.cluster.local, subset: v1}
`)
		if err != nil {
			t.Fatalf("kubectl apply refused a valid VirtualService: %v\n%s", err, out)
		}
	})

	t.Run("the mesh namespace is never blocked", func(t *testing.T) {
		for _, w := range cfg.Webhooks {
			if strings.HasPrefix(w.Name, "root.") || strings.HasPrefix(w.Name, "rev.root.") {
				if w.FailurePolicy == nil || *w.FailurePolicy != admissionregistrationv1.Ignore {
					t.Errorf("webhook %s for the mesh namespace has failurePolicy %v, want Ignore", w.Name, w.FailurePolicy)
				}
			}
		}
	})
}
