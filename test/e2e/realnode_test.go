package e2e

import (
	"archive/tar"
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/ptr"

	"loom.dev/loom/internal/agent"
	"loom.dev/loom/internal/devcluster"
	"loom.dev/loom/internal/imagebuild"
)

// echoImage is the grpcecho image's name in the tests and the demo (make demo-images).
const echoImage = "loom.dev/grpcecho:dev"

// requireRealNode skips where a real node cannot run: it needs root (CI runs as root).
func requireRealNode(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("the real node needs root")
	}
}

var (
	imagesOnce sync.Once
	images     []string
	imagesErr  error
)

// imageTarballs builds, once, the images the real node runs from the binaries TestMain
// built: loom (under the operator's and the control plane's default tags), grpcecho, and the
// test-only proxy image (see proxyImage).
func imageTarballs(t *testing.T) []string {
	t.Helper()
	imagesOnce.Do(func() { images, imagesErr = buildImageTarballs(filepath.Dir(imageLoomBin)) })
	if imagesErr != nil {
		t.Fatal(imagesErr)
	}
	return images
}

func buildImageTarballs(dir string) ([]string, error) {
	platform := v1.Platform{OS: "linux", Architecture: runtime.GOARCH}
	var tarballs []string
	for _, img := range []struct{ name, binary, ref string }{
		{"loom", imageLoomBin, "loom:latest"},
		{"loom", imageLoomBin, "loom:v1.1.0"},
		{"grpcecho", echoBin, echoImage},
		{"loom", imageLoomBin, proxyImage},
	} {
		idx, err := imagebuild.Build(imagebuild.Spec{
			Name:     img.name,
			Binaries: []imagebuild.Binary{{Platform: platform, Path: img.binary}},
			Created:  time.Unix(1700000000, 0),
		})
		if err != nil {
			return nil, err
		}
		image, err := imagebuild.ImageFor(idx, platform)
		if err != nil {
			return nil, err
		}
		if img.ref == proxyImage {
			if image, err = withStandInEnvoy(image); err != nil {
				return nil, err
			}
		}
		tag, err := name.NewTag(img.ref)
		if err != nil {
			return nil, err
		}
		path := filepath.Join(dir, strings.NewReplacer("/", "_", ":", "_").Replace(img.ref)+".tar")
		if err := tarball.WriteToFile(path, tag, image); err != nil {
			return nil, fmt.Errorf("tarball %s: %w", path, err)
		}
		tarballs = append(tarballs, path)
	}
	return tarballs, nil
}

// proxyImage is the sidecar template's istio-proxy image as the control plane names it by
// default (<image>-proxy): Loom plus Envoy. No Envoy binary exists here, so the tests' image
// carries the stand-in (package standinenvoy) at Envoy's path: `loom agent` supervises it,
// serves it its certificate and its xDS, and reports ready once it ACKs its listeners; it
// routes no traffic.
const proxyImage = "loom-proxy:v1.1.0"

// withStandInEnvoy adds the stand-in as /usr/local/bin/envoy.
func withStandInEnvoy(image v1.Image) (v1.Image, error) {
	binary, err := os.ReadFile(standInEnvoyBin)
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	mtime := time.Unix(1700000000, 0)
	for _, dir := range []string{"usr/", "usr/local/", "usr/local/bin/"} {
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: dir, Mode: 0o755, ModTime: mtime}); err != nil {
			return nil, err
		}
	}
	if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: strings.TrimPrefix(agent.DefaultProxyBinary, "/"), Mode: 0o755, Size: int64(len(binary)), ModTime: mtime}); err != nil {
		return nil, err
	}
	if _, err := tw.Write(binary); err != nil {
		return nil, err
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(buf.Bytes())), nil })
	if err != nil {
		return nil, err
	}
	return mutate.AppendLayers(image, layer)
}

// TestRealNode brings up a real node, runs pods from Loom's images on it, checks DNS,
// Services, logs, exec, port-forward and the egress guard, and checks that stopping it leaves
// the host as it was.
func TestRealNode(t *testing.T) {
	requireRealNode(t)
	tarballs := imageTarballs(t)
	before := takeHostSnapshot(t)
	started := time.Now()
	cluster, err := devcluster.Start(t.Context(), devcluster.Options{AssetsDir: assets, RealNode: &devcluster.RealNodeOptions{Images: tarballs}})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("real node Ready with cluster DNS in %s", time.Since(started).Round(100*time.Millisecond))
	stopped := false
	t.Cleanup(func() {
		if !stopped {
			_ = cluster.Stop()
		}
	})
	cs := kubernetes.NewForConfigOrDie(cluster.Config)
	k := &kube{t: t, cs: cs, cluster: cluster, ns: "realnode"}
	k.createNamespace()

	t.Run("second real node refused", func(t *testing.T) {
		_, err := devcluster.Start(t.Context(), devcluster.Options{AssetsDir: assets, RealNode: &devcluster.RealNodeOptions{}})
		if err == nil || !strings.Contains(err.Error(), "already running") {
			t.Fatalf("a second real node on the same machine: got %v, want a clear refusal", err)
		}
	})
	t.Run("pods reach a Service by its DNS name", func(t *testing.T) {
		k := k.in(t)
		k.echoServer()
		client := k.runToCompletion("client", "client", "--target", "dns:///echo."+k.ns+".svc.cluster.local:8080", "--n", "3", "--wait-for-ready", "--timeout", "10s")
		if !strings.Contains(client, "echo-1") {
			t.Fatalf("client pod did not reach echo-1 through cluster DNS and the Service:\n%s", client)
		}
	})
	t.Run("logs exec and port-forward", func(t *testing.T) {
		k := k.in(t)
		k.echoServer()
		out := k.kubectl("exec", "echo", "--", "/grpcecho", "client", "--target", "localhost:8080", "--n", "1")
		if !strings.Contains(out, "echo-1") {
			t.Errorf("kubectl exec: %s", out)
		}
		k.kubectl("logs", "echo")
		local := k.portForward("pod/echo", 8080)
		forwarded, err := exec.CommandContext(t.Context(), echoBin, "client", "--target", local, "--n", "1").CombinedOutput()
		if err != nil || !strings.Contains(string(forwarded), "echo-1") {
			t.Errorf("call through kubectl port-forward: %v\n%s", err, forwarded)
		}
	})
	t.Run("no pod packet leaves the machine", func(t *testing.T) {
		// A veth pair whose far end sits in a namespace of its own stands for the outside:
		// even a broken guard would send nothing off the machine.
		const outside, outsideNet, outsideHost = "lmguard0", "198.51.100.1/24", "198.51.100.2"
		t.Cleanup(func() {
			_ = exec.Command("ip", "link", "del", outside).Run()
			_ = exec.Command("ip", "netns", "del", "lmguard").Run()
		})
		// The far end answers ARP, so that a packet the guard let through would really be
		// sent; no IPv6 on the near end, so that nothing else is.
		for _, args := range [][]string{
			{"netns", "add", "lmguard"},
			{"link", "add", outside, "type", "veth", "peer", "name", "lmguard1", "netns", "lmguard"},
			{"netns", "exec", "lmguard", "ip", "addr", "add", outsideHost + "/24", "dev", "lmguard1"},
			{"netns", "exec", "lmguard", "ip", "link", "set", "lmguard1", "up"},
			{"netns", "exec", "lmguard", "sysctl", "-qw", "net.ipv6.conf.lmguard1.disable_ipv6=1"},
			{"link", "set", outside, "up"},
			{"addr", "add", outsideNet, "dev", outside},
		} {
			if args[0] == "link" && args[1] == "set" {
				if err := os.WriteFile("/proc/sys/net/ipv6/conf/"+outside+"/disable_ipv6", []byte("1"), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
				t.Fatalf("ip %v: %v\n%s", args, err, out)
			}
		}
		dropsBefore, err := cluster.EgressGuardDrops()
		if err != nil {
			t.Fatal(err)
		}
		txBefore := txPackets(t, outside)
		log := k.in(t).runToCompletion("egress", "client", "--target", outsideHost+":80", "--n", "1", "--timeout", "3s")
		if !strings.Contains(log, `"ok":0`) {
			t.Fatalf("a pod reached %s outside the node:\n%s", outsideHost, log)
		}
		dropsAfter, err := cluster.EgressGuardDrops()
		if err != nil {
			t.Fatal(err)
		}
		if dropsAfter <= dropsBefore {
			t.Errorf("egress guard dropped %d packets before and %d after a pod tried to reach %s: its packets were not seen", dropsBefore, dropsAfter, outsideHost)
		}
		if tx := txPackets(t, outside); tx != txBefore {
			t.Errorf("%d packets left through %s while a pod tried to reach %s", tx-txBefore, outside, outsideHost)
		}
	})

	if err := cluster.Stop(); err != nil {
		t.Fatalf("stopping the real node: %v", err)
	}
	stopped = true
	if diff := before.diff(takeHostSnapshot(t)); len(diff) > 0 {
		t.Errorf("the host is not as the real node found it:\n%s", strings.Join(diff, "\n"))
	}
}

func txPackets(t *testing.T, iface string) int {
	t.Helper()
	data, err := os.ReadFile("/sys/class/net/" + iface + "/statistics/tx_packets")
	if err != nil {
		t.Fatal(err)
	}
	n, err := strconv.Atoi(strings.TrimSpace(string(data)))
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// kube runs pods on the real node for one test.
type kube struct {
	t       *testing.T
	cs      kubernetes.Interface
	cluster *devcluster.Cluster
	ns      string
}

// in returns k for a subtest.
func (k *kube) in(t *testing.T) *kube {
	copied := *k
	copied.t = t
	return &copied
}

func (k *kube) createNamespace() {
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: k.ns}}
	if _, err := k.cs.CoreV1().Namespaces().Create(k.t.Context(), ns, metav1.CreateOptions{}); err != nil {
		k.t.Fatal(err)
	}
}

func (k *kube) kubectl(args ...string) string {
	k.t.Helper()
	out, err := exec.CommandContext(k.t.Context(), k.cluster.Kubectl(), append([]string{"--kubeconfig", k.cluster.KubeconfigPath, "-n", k.ns}, args...)...).CombinedOutput()
	if err != nil {
		k.t.Fatalf("kubectl %v: %v\n%s", args, err, out)
	}
	return string(out)
}

func echoPod(podName string, restart corev1.RestartPolicy, args ...string) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: podName, Labels: map[string]string{"app": podName}},
		Spec: corev1.PodSpec{
			RestartPolicy:                 restart,
			TerminationGracePeriodSeconds: ptr.To(int64(1)),
			SecurityContext:               &corev1.PodSecurityContext{RunAsNonRoot: ptr.To(true)},
			Containers: []corev1.Container{{
				Name: "echo", Image: echoImage, ImagePullPolicy: corev1.PullIfNotPresent, Args: args,
				SecurityContext: &corev1.SecurityContext{AllowPrivilegeEscalation: ptr.To(false), ReadOnlyRootFilesystem: ptr.To(true)},
			}},
		},
	}
}

// echoServer runs the echo pod and its Service once, and waits until it is Ready.
func (k *kube) echoServer() {
	ctx := k.t.Context()
	if _, err := k.cs.CoreV1().Pods(k.ns).Get(ctx, "echo", metav1.GetOptions{}); err == nil {
		return
	}
	pod := echoPod("echo", corev1.RestartPolicyAlways, "server", "--name", "echo-1", "--listen", ":8080")
	pod.Spec.Containers[0].ReadinessProbe = &corev1.Probe{
		ProbeHandler:  corev1.ProbeHandler{TCPSocket: &corev1.TCPSocketAction{Port: intstr.FromInt(8080)}},
		PeriodSeconds: 1,
	}
	if _, err := k.cs.CoreV1().Pods(k.ns).Create(ctx, pod, metav1.CreateOptions{}); err != nil {
		k.t.Fatal(err)
	}
	svc := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "echo"},
		Spec: corev1.ServiceSpec{
			Selector: map[string]string{"app": "echo"},
			Ports:    []corev1.ServicePort{{Name: "grpc", Port: 8080, TargetPort: intstr.FromInt(8080)}},
		},
	}
	if _, err := k.cs.CoreV1().Services(k.ns).Create(ctx, svc, metav1.CreateOptions{}); err != nil {
		k.t.Fatal(err)
	}
	k.waitPod("echo", func(p *corev1.Pod) bool {
		for _, c := range p.Status.Conditions {
			if c.Type == corev1.PodReady && c.Status == corev1.ConditionTrue {
				return true
			}
		}
		return false
	})
}

// runToCompletion runs a grpcecho pod that must succeed and returns its log.
func (k *kube) runToCompletion(podName string, args ...string) string {
	k.t.Helper()
	return k.runPod(podName, corev1.PodSucceeded, args...)
}

func (k *kube) runPod(podName string, want corev1.PodPhase, args ...string) string {
	k.t.Helper()
	if _, err := k.cs.CoreV1().Pods(k.ns).Create(k.t.Context(), echoPod(podName, corev1.RestartPolicyNever, args...), metav1.CreateOptions{}); err != nil {
		k.t.Fatal(err)
	}
	var phase corev1.PodPhase
	k.waitPod(podName, func(p *corev1.Pod) bool {
		phase = p.Status.Phase
		return phase == corev1.PodSucceeded || phase == corev1.PodFailed
	})
	logs := k.kubectl("logs", podName)
	if phase != want {
		k.t.Fatalf("pod %s ended %s, want %s:\n%s", podName, phase, want, logs)
	}
	return logs
}

func (k *kube) waitPod(podName string, done func(*corev1.Pod) bool) {
	k.t.Helper()
	err := wait.PollUntilContextTimeout(k.t.Context(), 200*time.Millisecond, 2*time.Minute, true, func(ctx context.Context) (bool, error) {
		p, err := k.cs.CoreV1().Pods(k.ns).Get(ctx, podName, metav1.GetOptions{})
		if err != nil {
			return false, nil //nolint:nilerr // keep polling
		}
		return done(p), nil
	})
	if err != nil {
		k.t.Fatalf("pod %s: %v\n%s", podName, err, k.kubectl("describe", "pod", podName))
	}
}

var forwardingFrom = regexp.MustCompile(`Forwarding from 127\.0\.0\.1:(\d+)`)

// portForward runs kubectl port-forward to a local port it picks and returns host:port.
func (k *kube) portForward(target string, port int) string {
	k.t.Helper()
	cmd := exec.CommandContext(k.t.Context(), k.cluster.Kubectl(), "--kubeconfig", k.cluster.KubeconfigPath, "-n", k.ns,
		"port-forward", target, fmt.Sprintf("0:%d", port))
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		k.t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		k.t.Fatal(err)
	}
	k.t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	lines := bufio.NewScanner(stdout)
	for lines.Scan() {
		if m := forwardingFrom.FindStringSubmatch(lines.Text()); m != nil {
			go func() {
				for lines.Scan() { //nolint:revive // drain so kubectl never blocks on its output
				}
			}()
			return "127.0.0.1:" + m[1]
		}
	}
	k.t.Fatalf("kubectl port-forward %s printed no local port", target)
	return ""
}

// TestRealNodeCleanedUpWhenOwnerKilled kills `loom dev cluster up --real-node` outright and
// checks that its watchdog stops the node's processes and pods and puts the host back, and
// that the next real node waits for that instead of being refused.
func TestRealNodeCleanedUpWhenOwnerKilled(t *testing.T) {
	requireRealNode(t)
	stateDir := t.TempDir()
	before := takeHostSnapshot(t)
	if out, err := loom(t, stateDir, "dev", "cluster", "up", "--detach", "--nodes", "0", "--real-node"); err != nil {
		t.Fatalf("up --real-node --detach: %v\n%s", err, out)
	}
	t.Cleanup(func() { _, _ = loom(t, stateDir, "dev", "cluster", "down") })
	if diff := before.diff(takeHostSnapshot(t)); len(diff) == 0 {
		t.Fatal("the real node changed nothing on the host: the snapshot misses what it changes")
	}
	pidText, err := os.ReadFile(filepath.Join(stateDir, "supervisor.pid"))
	if err != nil {
		t.Fatal(err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(pidText)))
	if err != nil {
		t.Fatal(err)
	}
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	// The next real node, started while the watchdog is still putting the host back, waits
	// for it instead of being refused; it then leaves the host as it found it too.
	next, err := devcluster.Start(t.Context(), devcluster.Options{AssetsDir: assets, RealNode: &devcluster.RealNodeOptions{}})
	if err != nil {
		t.Fatalf("a real node started right after another's owner was killed: %v", err)
	}
	if err := next.Stop(); err != nil {
		t.Fatal(err)
	}
	var diff []string
	err = wait.PollUntilContextTimeout(t.Context(), 500*time.Millisecond, 90*time.Second, true, func(context.Context) (bool, error) {
		diff = before.diff(takeHostSnapshot(t))
		return len(diff) == 0, nil
	})
	if err != nil {
		t.Fatalf("after its owner was killed, the host is not as the real node found it:\n%s", strings.Join(diff, "\n"))
	}
}

// TestRealNodeWithoutRootSaysWhy runs `up --real-node` as an unprivileged user: it must refuse
// with the reason and the kwok-only alternative, and change nothing.
func TestRealNodeWithoutRootSaysWhy(t *testing.T) {
	requireRealNode(t) // root, to switch to an unprivileged user
	// t.TempDir's parent is private to root; the unprivileged user needs a folder it can reach.
	stateDir, err := os.MkdirTemp("", "loom-nonroot-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(stateDir) })
	if err := os.Chmod(stateDir, 0o777); err != nil {
		t.Fatal(err)
	}
	before := takeHostSnapshot(t)
	cmd := exec.CommandContext(t.Context(), "setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
		loomBin, "dev", "cluster", "up", "--nodes", "0", "--real-node")
	cmd.Env = append(os.Environ(), "LOOM_DEV_DIR="+stateDir, "LOOM_K8S_ASSETS="+assets, "HOME="+stateDir, "TMPDIR="+stateDir)
	out, err := cmd.CombinedOutput()
	if err == nil || !strings.Contains(string(out), "needs root") || !strings.Contains(string(out), "leave out --real-node") {
		t.Fatalf("up --real-node as nobody: %v\n%s", err, out)
	}
	if diff := before.diff(takeHostSnapshot(t)); len(diff) > 0 {
		t.Errorf("a refused real node changed the host:\n%s", strings.Join(diff, "\n"))
	}
}
