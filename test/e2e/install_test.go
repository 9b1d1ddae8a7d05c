package e2e

import (
	"context"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"

	"loom.dev/loom/internal/devcluster"
)

// TestInstallWithKustomize applies config/default the way the README says, on a real node:
// the operator runs as a pod from Loom's image with its own ServiceAccount and RBAC, and the
// sample mesh's control plane runs `loom discovery` from the image, with real probes. A broken
// image, argument, permission or probe fails it.
func TestInstallWithKustomize(t *testing.T) {
	requireRealNode(t)
	ctx := t.Context()
	cluster, err := devcluster.Start(ctx, devcluster.Options{AssetsDir: assets, RealNode: &devcluster.RealNodeOptions{Images: imageTarballs(t)}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cluster.Stop() })
	kubectl := func(args ...string) string {
		t.Helper()
		out, err := exec.CommandContext(ctx, cluster.Kubectl(), append([]string{"--kubeconfig", cluster.KubeconfigPath}, args...)...).CombinedOutput()
		if err != nil {
			t.Fatalf("kubectl %v: %v\n%s", args, err, out)
		}
		return string(out)
	}

	kubectl("apply", "--server-side", "-k", repoRoot+"/config/default")
	kubectl("wait", "--for", "condition=Established", "crd/meshoperators.operator.loom.dev", "--timeout", "60s")
	cs := kubernetes.NewForConfigOrDie(cluster.Config)
	waitAvailable := func(ns, name string) {
		t.Helper()
		err := wait.PollUntilContextTimeout(ctx, 200*time.Millisecond, 2*time.Minute, true, func(ctx context.Context) (bool, error) {
			d, err := cs.AppsV1().Deployments(ns).Get(ctx, name, metav1.GetOptions{})
			if err != nil {
				return false, nil //nolint:nilerr // not created yet
			}
			for _, c := range d.Status.Conditions {
				if c.Type == appsv1.DeploymentAvailable && c.Status == corev1.ConditionTrue {
					return true, nil
				}
			}
			return false, nil
		})
		if err != nil {
			t.Fatalf("%s Deployment not Available: %v\n%s\n%s", name, err,
				kubectl("-n", ns, "get", "deploy,pods", "-o", "wide"),
				kubectl("-n", ns, "describe", "pods"))
		}
	}
	waitAvailable("loom-system", "loom-operator")

	kubectl("apply", "-k", repoRoot+"/config/samples")
	waitAvailable("loom-system", "loom-control-plane")
	kubectl("wait", "--for", "condition=Ready", "mesh/loom", "--timeout", "120s")
	if logs := kubectl("-n", "loom-system", "logs", "deploy/loom-control-plane"); !strings.Contains(logs, "caches synced; serving config") {
		t.Errorf("the control-plane pod does not serve config:\n%s", logs)
	}
	checkValidatorFailsClosed(t, cs, cluster)

	// Proxyless gRPC echo servers and a client in a namespace labelled istio-injection=enabled,
	// injected by the control-plane pod's webhook with the grpc-agent template: `loom agent`
	// gets each pod's certificate from the installed control plane's CA with the token kubelet
	// projects; 80/20 between the two echo Deployments over mTLS, each side seeing the other's
	// SPIFFE id.
	k := &kube{t: t, cs: cs, cluster: cluster, ns: "grpc-demo"}
	kubectl("apply", "-f", repoRoot+"/hack/demo/echo.yaml")
	waitAvailable(k.ns, "echo-v1")
	waitAvailable(k.ns, "echo-v2")
	kubectl("apply", "-f", repoRoot+"/hack/demo/client.yaml")
	var phase corev1.PodPhase
	k.waitPod("demo-client", func(p *corev1.Pod) bool {
		phase = p.Status.Phase
		return phase == corev1.PodSucceeded || phase == corev1.PodFailed
	})
	log := k.kubectl("logs", "demo-client", "-c", "client")
	if phase != corev1.PodSucceeded {
		t.Fatalf("client pod %s:\n%s\n%s\n%s", phase, log, k.kubectl("logs", "demo-client", "-c", "istio-agent-init"), k.kubectl("logs", "demo-client", "-c", "istio-proxy"))
	}
	checkInjected(t, k, "demo-client")
	checkSplit(t, log)
	checkMutualTLS(t, log, "spiffe://cluster.local/ns/grpc-demo/sa/echo", "spiffe://cluster.local/ns/grpc-demo/sa/demo-client")
	checkSidecarPodRuns(t, &kube{t: t, cs: cs, cluster: cluster, ns: "sidecar-demo"})

	// The control-plane pod publishes its proxy counts and the operator reports them: the two
	// echo servers and the sidecar pod at least, every one running the current config.
	var summary string
	err = wait.PollUntilContextTimeout(ctx, 500*time.Millisecond, 2*time.Minute, true, func(ctx context.Context) (bool, error) {
		out, err := exec.CommandContext(ctx, cluster.Kubectl(), "--kubeconfig", cluster.KubeconfigPath, "get", "mesh", "loom",
			"-o", "jsonpath={.status.proxies.connected} {.status.proxies.outOfDate} {.status.proxies.summary}").CombinedOutput()
		summary = string(out)
		var connected, outOfDate int
		n, _ := fmt.Sscanf(summary, "%d %d", &connected, &outOfDate)
		return err == nil && n == 2 && connected >= 3 && outOfDate == 0, nil
	})
	if err != nil {
		t.Fatalf("status.proxies never showed the mesh's 3 proxies up to date: %q\n%s", summary, kubectl("get", "mesh", "loom", "-o", "yaml"))
	}
	t.Logf("kubectl get mesh: proxies %s", summary)

	// kubectl mesh proxy-config reads the control-plane pod's /debug endpoints through the
	// apiserver's service proxy: an echo server's ACKed listeners include its server listener
	// on 8080.
	pods, err := cs.CoreV1().Pods(k.ns).List(ctx, metav1.ListOptions{LabelSelector: "app=echo,version=v1"})
	if err != nil || len(pods.Items) == 0 {
		t.Fatalf("no echo-v1 pod: %v", err)
	}
	out, err := exec.CommandContext(ctx, kubectlMeshBin, "--kubeconfig", cluster.KubeconfigPath, "-n", k.ns,
		"proxy-config", pods.Items[0].Name, "listeners").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "8080") {
		t.Fatalf("kubectl mesh proxy-config %s listeners: %v\n%s", pods.Items[0].Name, err, out)
	}
	t.Logf("kubectl mesh proxy-config %s listeners:\n%s", pods.Items[0].Name, out)
}

// checkValidatorFailsClosed: as istiod's, the mesh's validator fails open until its control
// plane serves, then closed; an invalid VirtualService outside the mesh namespace is then
// refused by the control-plane pod's webhook.
func checkValidatorFailsClosed(t *testing.T, cs kubernetes.Interface, cluster *devcluster.Cluster) {
	t.Helper()
	err := wait.PollUntilContextTimeout(t.Context(), 500*time.Millisecond, 2*time.Minute, true, func(ctx context.Context) (bool, error) {
		list, err := cs.AdmissionregistrationV1().ValidatingWebhookConfigurations().List(ctx, metav1.ListOptions{})
		if err != nil {
			return false, nil //nolint:nilerr // retried
		}
		for _, cfg := range list.Items {
			for _, w := range cfg.Webhooks {
				if w.ClientConfig.Service != nil && w.ClientConfig.Service.Namespace == "loom-system" &&
					w.FailurePolicy != nil && *w.FailurePolicy == admissionregistrationv1.Fail {
					return true, nil
				}
			}
		}
		return false, nil
	})
	if err != nil {
		t.Fatalf("the mesh's validator never failed closed once its control plane served: %v", err)
	}
	cmd := exec.CommandContext(t.Context(), cluster.Kubectl(), "--kubeconfig", cluster.KubeconfigPath, "-n", "default", "apply", "--dry-run=server", "-f", "-")
	cmd.Stdin = strings.NewReader(`
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: bad-regex}
spec:
  hosts: [reviews]
  http:
  - match: [{uri: {regex: "("}}]
    route: [{destination: {host: reviews}}]
`)
	out, err := cmd.CombinedOutput()
	if err == nil || !strings.Contains(string(out), "spec.http[0].match[0].uri.regex") || !strings.Contains(string(out), "invalid RE2 regular expression") {
		t.Fatalf("an invalid VirtualService in namespace default: %v\n%s\nwant the control plane's webhook to refuse it naming the regex", err, out)
	}
}

// checkSidecarPodRuns: a pod of the default (sidecar) template in an injected namespace runs
// `loom iptables` as its first init container on the real node, which installs Istio's
// redirection in the pod's own network namespace; then its istio-proxy (`loom agent` with the
// stand-in for Envoy, see proxyImage) gets the pod's certificate from the installed control
// plane, its Envoy gets the certificate over SDS and its listeners over the agent's xDS
// proxy, and the pod becomes Ready through the agent's readiness, the app held until then.
func checkSidecarPodRuns(t *testing.T, k *kube) {
	t.Helper()
	k.kubectl("create", "namespace", k.ns)
	k.kubectl("label", "namespace", k.ns, "istio-injection=enabled")
	k.kubectl("run", "web", "--image", "loom.dev/grpcecho:dev", "--image-pull-policy", "IfNotPresent", "--port", "8080", "--", "server", "--listen", ":8080")
	var pod *corev1.Pod
	k.waitPod("web", func(p *corev1.Pod) bool {
		pod = p
		for _, s := range p.Status.InitContainerStatuses {
			if s.Name == "istio-init" && s.State.Terminated != nil {
				return true
			}
		}
		return false
	})
	for _, s := range pod.Status.InitContainerStatuses {
		if s.Name == "istio-init" && s.State.Terminated.ExitCode != 0 {
			t.Fatalf("istio-init exited %d:\n%s", s.State.Terminated.ExitCode, k.kubectl("logs", "web", "-c", "istio-init"))
		}
	}
	ruleset := podNetnsRuleset(t, pod.Status.PodIP)
	for _, want := range []string{"table ip loom", "ISTIO_OUTPUT", "redirect to :15001", "redirect to :15006", "meta skuid 1337"} {
		if !strings.Contains(ruleset, want) {
			t.Errorf("the pod's network namespace lacks %q:\n%s", want, ruleset)
		}
	}
	if host, err := exec.Command("nft", "list", "tables").CombinedOutput(); err != nil || strings.Contains(string(host), "loom") {
		t.Errorf("the host's own tables (%v):\n%s\nmust not hold the pod's redirect", err, host)
	}

	ready := func(p *corev1.Pod) bool {
		pod = p
		for _, c := range p.Status.Conditions {
			if c.Type == corev1.PodReady {
				return c.Status == corev1.ConditionTrue
			}
		}
		return false
	}
	err := wait.PollUntilContextTimeout(t.Context(), 200*time.Millisecond, 2*time.Minute, true, func(ctx context.Context) (bool, error) {
		p, err := k.cs.CoreV1().Pods(k.ns).Get(ctx, "web", metav1.GetOptions{})
		return err == nil && ready(p), nil
	})
	if err != nil {
		t.Fatalf("the sidecar pod never became Ready: %+v\n%s\n%s", pod.Status, k.kubectl("logs", "web", "-c", "istio-proxy"), k.kubectl("describe", "pod", "web"))
	}
	proxy := k.kubectl("logs", "web", "-c", "istio-proxy")
	for _, want := range []string{
		"workload certificate spiffe://cluster.local/ns/" + k.ns + "/sa/default",
		"ACK envoy.config.cluster.v3.Cluster",
		"ACK envoy.config.listener.v3.Listener",
	} {
		if !strings.Contains(proxy, want) {
			t.Errorf("istio-proxy's log lacks %q:\n%s", want, proxy)
		}
	}
	t.Logf("sidecar-template pod Ready on the real node with its proxy configured by the control-plane pod")
}

// podNetnsRuleset lists the nftables ruleset of the network namespace (of those the CNI
// created on this host) that holds ip.
func podNetnsRuleset(t *testing.T, ip string) string {
	t.Helper()
	if ip == "" {
		t.Fatal("the pod has no IP")
	}
	namespaces, _ := filepath.Glob("/var/run/netns/*")
	for _, ns := range namespaces {
		addrs, err := exec.Command("ip", "-n", filepath.Base(ns), "-o", "addr").CombinedOutput()
		if err != nil || !strings.Contains(string(addrs), " "+ip+"/") {
			continue
		}
		out, err := exec.Command("nsenter", "--net="+ns, "nft", "list", "ruleset").CombinedOutput()
		if err != nil {
			t.Fatalf("nft in %s: %v\n%s", ns, err, out)
		}
		return string(out)
	}
	t.Fatalf("no network namespace under /var/run/netns holds %s (%v)", ip, namespaces)
	return ""
}

// checkInjected checks that the webhook, not the manifest, put the agent into the pod.
func checkInjected(t *testing.T, k *kube, pod string) {
	t.Helper()
	p, err := k.cs.CoreV1().Pods(k.ns).Get(t.Context(), pod, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if p.Annotations["sidecar.istio.io/status"] == "" {
		t.Errorf("pod %s has no sidecar.istio.io/status: not injected", pod)
	}
	var inits []string
	for _, c := range p.Spec.InitContainers {
		inits = append(inits, c.Name)
	}
	if strings.Join(inits, ",") != "istio-agent-init,istio-proxy" {
		t.Errorf("pod %s init containers %v, want the injected istio-agent-init and istio-proxy", pod, inits)
	}
}
