package xds

import (
	"context"
	"encoding/json"
	"fmt"
	"k8s.io/apimachinery/pkg/util/wait"
	"net"
	"slices"
	"strings"
	"testing"
	"time"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/intstr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"loom.dev/loom/pkg/render"
)

const (
	injectAgentImage = "loom:test"
	injectProxyImage = "loom-proxy:test"
)

// injectorConfig is the control-plane chart's MutatingWebhookConfiguration for revision
// (empty: the default one), pointed at url instead of the in-cluster Service, with caBundle.
func injectorConfig(t *testing.T, revision, url string, caBundle []byte) *admissionregistrationv1.MutatingWebhookConfiguration {
	t.Helper()
	r, err := render.New()
	if err != nil {
		t.Fatal(err)
	}
	objs, err := r.Render(render.ControlPlane, render.Release{Name: "test", Namespace: "istio-system"}, map[string]any{"revision": revision})
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range objs {
		if o.GetKind() != "MutatingWebhookConfiguration" {
			continue
		}
		cfg := &admissionregistrationv1.MutatingWebhookConfiguration{}
		if err := runtime.DefaultUnstructuredConverter.FromUnstructured(o.Object, cfg); err != nil {
			t.Fatal(err)
		}
		for i := range cfg.Webhooks {
			cfg.Webhooks[i].ClientConfig = admissionregistrationv1.WebhookClientConfig{URL: &url, CABundle: caBundle}
		}
		cfg.Name += "-" + revision + "-" + strings.ToLower(strings.ReplaceAll(t.Name(), "/", "-"))
		return cfg
	}
	t.Fatal("the control-plane chart renders no MutatingWebhookConfiguration")
	return nil
}

func registerWebhook(t *testing.T, cfg *admissionregistrationv1.MutatingWebhookConfiguration) {
	t.Helper()
	create(t, cfg)
	t.Cleanup(func() { _ = k8sClient.Delete(context.Background(), cfg) })
}

func labelledNamespace(t *testing.T, suffix string, labels map[string]string) string {
	t.Helper()
	name := strings.ToLower(strings.ReplaceAll(t.Name(), "/", "-")) + "-" + suffix
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels}}
	if err := k8sClient.Create(context.Background(), ns); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = k8sClient.Delete(context.Background(), ns) })
	return name
}

// testPod names its ServiceAccount: this apiserver runs without the ServiceAccount admission
// plugin, which sets it before the webhooks run in a full cluster.
func testPod(ns, name string, labels, annotations map[string]string) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, Labels: labels, Annotations: annotations},
		Spec: corev1.PodSpec{ServiceAccountName: "default", Containers: []corev1.Container{{Name: "app", Image: "app:1",
			ReadinessProbe: &corev1.Probe{ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/ready", Port: intstr.FromInt32(8080)}}}}}},
	}
}

// injected says whether the pod as stored carries the mesh's proxy (Istio's container name).
func injected(pod *corev1.Pod) bool {
	has := func(cs []corev1.Container) bool {
		return slices.ContainsFunc(cs, func(c corev1.Container) bool { return c.Name == "istio-proxy" })
	}
	return has(pod.Spec.InitContainers) || has(pod.Spec.Containers)
}

// TestSidecarInjectionPolicy registers the chart's webhook configuration with the real
// apiserver, served by `loom discovery`, and checks Istio's selection rules end to end: the
// apiserver's selectors and the injector's own decision.
func TestSidecarInjectionPolicy(t *testing.T) {
	url := "https://" + net.JoinHostPort("localhost", portOf(plane.webhookAddr)) + "/inject"
	registerWebhook(t, injectorConfig(t, "", url, waitTrustBundle(t, "istio-system")))

	enabled := labelledNamespace(t, "enabled", map[string]string{"istio-injection": "enabled"})
	disabled := labelledNamespace(t, "disabled", map[string]string{"istio-injection": "disabled"})
	plain := labelledNamespace(t, "plain", nil)
	revDefault := labelledNamespace(t, "rev-default", map[string]string{"istio.io/rev": "default"})
	revOther := labelledNamespace(t, "rev-canary", map[string]string{"istio.io/rev": "canary"})
	both := labelledNamespace(t, "both", map[string]string{"istio-injection": "enabled", "istio.io/rev": "canary"})

	for _, tc := range []struct {
		name, ns    string
		labels      map[string]string
		hostNetwork bool
		want        bool
	}{
		{"namespace enabled", enabled, nil, false, true},
		{"namespace enabled, pod opts out", enabled, map[string]string{"sidecar.istio.io/inject": "false"}, false, false},
		{"namespace enabled, host network", enabled, nil, true, false},
		{"namespace disabled, pod opts in", disabled, map[string]string{"sidecar.istio.io/inject": "true"}, false, false},
		{"unlabelled namespace", plain, nil, false, false},
		{"unlabelled namespace, pod opts in", plain, map[string]string{"sidecar.istio.io/inject": "true"}, false, true},
		{"unlabelled namespace, pod names this revision", plain, map[string]string{"istio.io/rev": "default"}, false, true},
		{"unlabelled namespace, pod names another revision", plain, map[string]string{"istio.io/rev": "canary"}, false, false},
		{"namespace names this revision", revDefault, nil, false, true},
		{"namespace names this revision, pod opts out", revDefault, map[string]string{"sidecar.istio.io/inject": "false"}, false, false},
		{"namespace names another revision", revOther, nil, false, false},
		{"istio-injection beats istio.io/rev", both, nil, false, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pod := testPod(tc.ns, "p-"+strings.ToLower(strings.NewReplacer(" ", "-", ",", "", "/", "-").Replace(tc.name)), tc.labels, nil)
			pod.Spec.HostNetwork = tc.hostNetwork
			create(t, pod)
			if got := injected(pod); got != tc.want {
				t.Fatalf("injected = %v, want %v; containers %v, init containers %v", got, tc.want, containerNames(pod.Spec.Containers), containerNames(pod.Spec.InitContainers))
			}
			if tc.want {
				if pod.Annotations["sidecar.istio.io/status"] == "" {
					t.Error("an injected pod has no sidecar.istio.io/status annotation")
				}
				if pod.Labels["security.istio.io/tlsMode"] != "istio" {
					t.Errorf("an injected pod's labels %v lack security.istio.io/tlsMode=istio", pod.Labels)
				}
			}
		})
	}

	t.Run("system namespaces are never injected", func(t *testing.T) {
		ctx := context.Background()
		ns := &corev1.Namespace{}
		if err := k8sClient.Get(ctx, client.ObjectKey{Name: "kube-public"}, ns); err != nil {
			t.Fatal(err)
		}
		patch := client.MergeFrom(ns.DeepCopy())
		ns.Labels["istio-injection"] = "enabled"
		if err := k8sClient.Patch(ctx, ns, patch); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			undo := client.MergeFrom(ns.DeepCopy())
			delete(ns.Labels, "istio-injection")
			_ = k8sClient.Patch(ctx, ns, undo)
		})
		pod := testPod("kube-public", "never-injected", map[string]string{"sidecar.istio.io/inject": "true"}, nil)
		create(t, pod)
		t.Cleanup(func() { _ = k8sClient.Delete(ctx, pod) })
		if injected(pod) {
			t.Fatal("a pod in kube-public was injected")
		}
	})

	t.Run("grpc-agent template", func(t *testing.T) {
		pod := testPod(enabled, "grpc-agent", nil, map[string]string{"inject.istio.io/templates": "grpc-agent"})
		create(t, pod)
		if !injected(pod) {
			t.Fatal("not injected")
		}
		app := pod.Spec.Containers[slices.IndexFunc(pod.Spec.Containers, func(c corev1.Container) bool { return c.Name == "app" })]
		if !slices.ContainsFunc(app.Env, func(e corev1.EnvVar) bool { return e.Name == "GRPC_XDS_BOOTSTRAP" }) {
			t.Errorf("the app container has no GRPC_XDS_BOOTSTRAP: %v", app.Env)
		}
		if slices.ContainsFunc(pod.Spec.InitContainers, func(c corev1.Container) bool { return c.Name == "istio-init" }) {
			t.Error("the grpc-agent template installed a traffic redirect")
		}
	})

	t.Run("an Istio annotation the injector does not act on is warned about", func(t *testing.T) {
		out, err := kubectlApply(t, enabled, `
apiVersion: v1
kind: Pod
metadata:
  name: warned
  annotations: {sidecar.istio.io/proxyImageType: distroless}
spec:
  serviceAccountName: default
  containers: [{name: app, image: app:1}]
`)
		if err != nil || !strings.Contains(out, "Warning: annotation sidecar.istio.io/proxyImageType: not acted on by Loom's injector") {
			t.Fatalf("kubectl apply: %v\n%s\nwant the pod created with a warning naming the annotation", err, out)
		}
	})

	t.Run("a bad annotation refuses the pod, naming it", func(t *testing.T) {
		pod := testPod(enabled, "bad-annotation", nil, map[string]string{"sidecar.istio.io/proxyCPU": "banana"})
		err := k8sClient.Create(context.Background(), pod)
		if err == nil || !strings.Contains(err.Error(), "sidecar.istio.io/proxyCPU") {
			t.Fatalf("create: %v, want a refusal naming sidecar.istio.io/proxyCPU", err)
		}
	})
}

// TestInjectorDown shows the failure policy: with the injector unreachable, a pod that
// should be injected is refused (never started without its proxy), any other pod is created.
func TestInjectorDown(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := l.Addr().String()
	_ = l.Close()
	registerWebhook(t, injectorConfig(t, "down", "https://"+dead+"/inject", waitTrustBundle(t, "istio-system")))

	selected := labelledNamespace(t, "selected", map[string]string{"istio.io/rev": "down"})
	other := labelledNamespace(t, "other", nil)
	if err := k8sClient.Create(context.Background(), testPod(selected, "refused", nil, nil)); err == nil {
		t.Fatal("a pod of a namespace of the unreachable injector's revision was created")
	} else if !strings.Contains(err.Error(), "sidecar-injector.loom.dev") {
		t.Fatalf("refused, but not by the injector's webhook: %v", err)
	}
	pod := testPod(other, "created", nil, nil)
	create(t, pod)
	if injected(pod) {
		t.Fatal("a pod outside the injector's selectors was injected")
	}
}

func containerNames(cs []corev1.Container) []string {
	var out []string
	for _, c := range cs {
		out = append(out, c.Name)
	}
	return out
}

func portOf(addr string) string {
	_, port, _ := net.SplitHostPort(addr)
	return port
}

// TestRevisionsInjectTheirOwnNamespaces runs a second control plane of revision canary beside
// the default one, each registering its own injector configuration (rendered from the chart as
// the operator renders a kept revision: without the default revision's webhooks): a namespace
// labelled istio.io/rev=canary gets canary's proxies, one labelled istio-injection=enabled the
// default's, and relabelling a namespace moves its new pods to the other revision.
func TestRevisionsInjectTheirOwnNamespaces(t *testing.T) {
	canary, err := startDiscoveryOfRevision("canary")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(canary.stop)
	bundle := waitTrustBundle(t, "istio-system")
	registerWebhook(t, injectorConfig(t, "", "https://"+net.JoinHostPort("localhost", portOf(plane.webhookAddr))+"/inject", bundle))
	canaryCfg := injectorConfig(t, "canary", "https://"+net.JoinHostPort("localhost", portOf(canary.webhookAddr))+"/inject", bundle)
	canaryCfg.Webhooks = slices.DeleteFunc(canaryCfg.Webhooks, func(w admissionregistrationv1.MutatingWebhook) bool { return !strings.HasPrefix(w.Name, "rev.") })
	registerWebhook(t, canaryCfg)

	revisionOf := func(pod *corev1.Pod) string {
		var status struct {
			Revision string `json:"revision"`
		}
		if pod.Annotations["sidecar.istio.io/status"] == "" {
			return ""
		}
		if err := json.Unmarshal([]byte(pod.Annotations["sidecar.istio.io/status"]), &status); err != nil {
			t.Fatalf("pod %s: sidecar.istio.io/status: %v", pod.Name, err)
		}
		return status.Revision
	}
	onCanary := labelledNamespace(t, "canary", map[string]string{"istio.io/rev": "canary"})
	onDefault := labelledNamespace(t, "default", map[string]string{"istio-injection": "enabled"})
	for ns, want := range map[string]string{onCanary: "canary", onDefault: "default"} {
		pod := testPod(ns, "before", nil, nil)
		create(t, pod)
		if !injected(pod) || revisionOf(pod) != want || pod.Annotations["istio.io/rev"] != want || pod.Labels["istio.io/rev"] != want {
			t.Errorf("namespace %s: injected %v by revision %q (annotation %q, label %q), want %s", ns, injected(pod), revisionOf(pod),
				pod.Annotations["istio.io/rev"], pod.Labels["istio.io/rev"], want)
		}
		for _, c := range pod.Spec.InitContainers {
			if c.Name == "istio-proxy" && !strings.Contains(strings.Join(c.Args, " "), "--revision "+want) {
				t.Errorf("namespace %s: the proxy's agent %v does not name revision %s, so that revision's discovery would refuse it", ns, c.Args, want)
			}
		}
	}

	// The canary becomes the namespace's revision: relabel, and its new pods follow.
	ns := &corev1.Namespace{}
	if err := k8sClient.Get(context.Background(), client.ObjectKey{Name: onDefault}, ns); err != nil {
		t.Fatal(err)
	}
	delete(ns.Labels, "istio-injection")
	ns.Labels["istio.io/rev"] = "canary"
	if err := k8sClient.Update(context.Background(), ns); err != nil {
		t.Fatal(err)
	}
	// The apiserver and the injectors see the new label through their caches: eventually.
	var last string
	err = wait.PollUntilContextTimeout(context.Background(), 200*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
		pod := testPod(onDefault, "", nil, nil)
		pod.GenerateName = "after-"
		if err := k8sClient.Create(ctx, pod); err != nil {
			return false, err
		}
		last = fmt.Sprintf("injected %v, revision %q", injected(pod), revisionOf(pod))
		return injected(pod) && revisionOf(pod) == "canary", nil
	})
	if err != nil {
		t.Fatalf("after relabelling, new pods are not injected by canary: %v (last: %s)", err, last)
	}
}
