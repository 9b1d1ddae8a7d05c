package inject

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
)

// istioWebhook is one webhook of Istio's MutatingWebhookConfiguration
// (manifests/charts/istio-control/istio-discovery/templates/mutatingwebhook.yaml),
// copied as the apiserver evaluates it: the oracle Decide is checked against.
type istioWebhook struct{ namespace, object metav1.LabelSelector }

func req(key string, op metav1.LabelSelectorOperator, values ...string) metav1.LabelSelectorRequirement {
	return metav1.LabelSelectorRequirement{Key: key, Operator: op, Values: values}
}

func sel(reqs ...metav1.LabelSelectorRequirement) metav1.LabelSelector {
	return metav1.LabelSelector{MatchExpressions: reqs}
}

// istioWebhooks are the webhooks Istio's chart installs for revision rev
// ("default" for the default revision, which also gets the legacy ones).
func istioWebhooks(rev string, defaultRevision bool) []istioWebhook {
	revs := []string{rev}
	if defaultRevision && rev != "default" {
		revs = append(revs, "default") // the default tag's webhooks
	}
	var hooks []istioWebhook
	for _, r := range revs {
		hooks = append(hooks,
			istioWebhook{ // rev.namespace
				sel(req("istio.io/rev", metav1.LabelSelectorOpIn, r), req("istio-injection", metav1.LabelSelectorOpDoesNotExist)),
				sel(req("sidecar.istio.io/inject", metav1.LabelSelectorOpNotIn, "false")),
			},
			istioWebhook{ // rev.object
				sel(req("istio.io/rev", metav1.LabelSelectorOpDoesNotExist), req("istio-injection", metav1.LabelSelectorOpDoesNotExist)),
				sel(req("sidecar.istio.io/inject", metav1.LabelSelectorOpNotIn, "false"), req("istio.io/rev", metav1.LabelSelectorOpIn, r)),
			})
	}
	if defaultRevision {
		hooks = append(hooks,
			istioWebhook{ // namespace
				sel(req("istio-injection", metav1.LabelSelectorOpIn, "enabled")),
				sel(req("sidecar.istio.io/inject", metav1.LabelSelectorOpNotIn, "false")),
			},
			istioWebhook{ // object
				sel(req("istio-injection", metav1.LabelSelectorOpDoesNotExist), req("istio.io/rev", metav1.LabelSelectorOpDoesNotExist)),
				sel(req("sidecar.istio.io/inject", metav1.LabelSelectorOpIn, "true"), req("istio.io/rev", metav1.LabelSelectorOpDoesNotExist)),
			})
	}
	return hooks
}

func matches(t *testing.T, s metav1.LabelSelector, l map[string]string) bool {
	t.Helper()
	selector, err := metav1.LabelSelectorAsSelector(&s)
	if err != nil {
		t.Fatal(err)
	}
	return selector.Matches(labels.Set(l))
}

// oracle: some webhook selects the pod, then Istio's injectRequired (label
// over annotation; only "false" opts out once selected).
func oracle(t *testing.T, s Settings, ns Namespace, pod *corev1.Pod) bool {
	selected := false
	for _, h := range istioWebhooks(s.revision(), s.DefaultRevision) {
		if matches(t, h.namespace, ns.Labels) && matches(t, h.object, pod.Labels) {
			selected = true
		}
	}
	if !selected || pod.Spec.HostNetwork || ignoredNamespaces[ns.Name] || ns.Name == s.MeshNamespace {
		return false
	}
	if _, ok := pod.Annotations["sidecar.istio.io/status"]; ok {
		return false
	}
	v := pod.Annotations["sidecar.istio.io/inject"]
	if l, ok := pod.Labels["sidecar.istio.io/inject"]; ok {
		v = l
	}
	return v != "false"
}

// put sets key=value in m, or leaves it out when value is "-".
func put(m map[string]string, key, value string) {
	if value != "-" {
		m[key] = value
	}
}

var injectors = map[string]Settings{
	"default":           {Revision: "default", DefaultRevision: true, MeshNamespace: "istio-system"},
	"canary":            {Revision: "canary", MeshNamespace: "istio-system"},
	"canary-as-default": {Revision: "canary", DefaultRevision: true, MeshNamespace: "istio-system"},
}

// TestDecideTable checks every combination of the labels and annotations
// that take part in the decision against Istio's webhook selectors.
func TestDecideTable(t *testing.T) {
	n := 0
	for _, nsName := range []string{"shop", "kube-system", "kube-public", "kube-node-lease", "istio-system"} {
		for _, nsInjection := range []string{"-", "enabled", "disabled", ""} {
			for _, nsRev := range []string{"-", "default", "canary", "other"} {
				for _, podInject := range []string{"-", "true", "false", "yes"} {
					for _, podInjectAnno := range []string{"-", "false", "true"} {
						for _, podRev := range []string{"-", "default", "canary", "other"} {
							for _, hostNetwork := range []bool{false, true} {
								for _, injected := range []bool{false, true} {
									ns := Namespace{Name: nsName, Labels: map[string]string{}}
									put(ns.Labels, "istio-injection", nsInjection)
									put(ns.Labels, "istio.io/rev", nsRev)
									pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{}, Annotations: map[string]string{}}}
									put(pod.Labels, "sidecar.istio.io/inject", podInject)
									put(pod.Annotations, "sidecar.istio.io/inject", podInjectAnno)
									put(pod.Labels, "istio.io/rev", podRev)
									pod.Spec.HostNetwork = hostNetwork
									if injected {
										pod.Annotations["sidecar.istio.io/status"] = "{}"
									}
									for name, s := range injectors {
										n++
										got := Decide(ns, pod, s)
										if want := oracle(t, s, ns, pod); got.Inject != want {
											t.Errorf("injector %s, namespace %s %v, pod labels %v annotations %v hostNetwork %v: Decide = %+v, Istio injects: %v",
												name, nsName, ns.Labels, pod.Labels, pod.Annotations, hostNetwork, got, want)
										}
										if got.Reason == "" {
											t.Errorf("no reason for %v %v", ns.Labels, pod.Labels)
										}
									}
								}
							}
						}
					}
				}
			}
		}
	}
	t.Logf("%d combinations", n)
}

// TestDecideNeverTwoInjectors: with a default and a canary revision
// installed side by side, no pod is injected twice.
func TestDecideNeverTwoInjectors(t *testing.T) {
	def, canary := injectors["default"], injectors["canary"]
	for _, nsInjection := range []string{"-", "enabled", "disabled"} {
		for _, nsRev := range []string{"-", "default", "canary"} {
			for _, podInject := range []string{"-", "true", "false"} {
				for _, podRev := range []string{"-", "default", "canary"} {
					ns := Namespace{Name: "shop", Labels: map[string]string{}}
					put(ns.Labels, "istio-injection", nsInjection)
					put(ns.Labels, "istio.io/rev", nsRev)
					pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{}}}
					put(pod.Labels, "sidecar.istio.io/inject", podInject)
					put(pod.Labels, "istio.io/rev", podRev)
					if Decide(ns, pod, def).Inject && Decide(ns, pod, canary).Inject {
						t.Errorf("namespace %v, pod %v: both revisions inject", ns.Labels, pod.Labels)
					}
				}
			}
		}
	}
}

// TestDecideDocumentedCases are the cases of Istio's "Controlling the
// injection policy" table, written out by hand so the oracle is checked too.
func TestDecideDocumentedCases(t *testing.T) {
	def, canary := injectors["default"], injectors["canary"]
	cases := []struct {
		ns, pod    map[string]string
		s          Settings
		want       bool
		wantReason string
	}{
		{map[string]string{"istio-injection": "enabled"}, nil, def, true, "namespace label istio-injection=enabled"},
		{map[string]string{"istio-injection": "enabled"}, map[string]string{"sidecar.istio.io/inject": "false"}, def, false, "pod label sidecar.istio.io/inject=false"},
		{map[string]string{"istio-injection": "disabled"}, map[string]string{"sidecar.istio.io/inject": "true"}, def, false, `namespace label istio-injection="disabled"`},
		{map[string]string{"istio-injection": "enabled", "istio.io/rev": "canary"}, nil, canary, false, "namespace label istio-injection=enabled belongs to the default revision, not canary"},
		{map[string]string{"istio-injection": "enabled", "istio.io/rev": "canary"}, nil, def, true, "namespace label istio-injection=enabled"},
		{map[string]string{"istio.io/rev": "canary"}, nil, canary, true, "namespace label istio.io/rev=canary"},
		{map[string]string{"istio.io/rev": "canary"}, map[string]string{"istio.io/rev": "default"}, def, false, "namespace label istio.io/rev=canary selects another revision than default"},
		{nil, map[string]string{"istio.io/rev": "canary"}, canary, true, "pod label istio.io/rev=canary"},
		{nil, map[string]string{"sidecar.istio.io/inject": "true"}, def, true, "pod label sidecar.istio.io/inject=true"},
		{nil, map[string]string{"sidecar.istio.io/inject": "true"}, canary, false, "pod label sidecar.istio.io/inject=true without istio.io/rev belongs to the default revision, not canary"},
		{nil, nil, def, false, "neither namespace nor pod selects injection"},
	}
	for i, c := range cases {
		pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Labels: c.pod}}
		got := Decide(Namespace{Name: "shop", Labels: c.ns}, pod, c.s)
		if got.Inject != c.want || got.Reason != c.wantReason {
			t.Errorf("case %d (ns %v, pod %v, revision %s): got %+v, want inject=%v reason %q", i, c.ns, c.pod, c.s.Revision, got, c.want, c.wantReason)
		}
	}
	if got := Decide(Namespace{Name: "kube-system", Labels: map[string]string{"istio-injection": "enabled"}}, &corev1.Pod{}, def); got.Inject {
		t.Errorf("kube-system injected: %+v", got)
	}
	if got := Decide(Namespace{Name: "shop"}, nil, def); got.Inject {
		t.Errorf("nil pod injected: %+v", got)
	}
}
