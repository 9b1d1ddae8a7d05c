package xds

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/util/retry"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	"loom.dev/loom/pkg/grpcbootstrap"
	"loom.dev/loom/test/netns"
)

var nextPort atomic.Int32

func init() { nextPort.Store(18000) }

// newNamespace creates a namespace named after the test.
func newNamespace(t *testing.T) string {
	t.Helper()
	name := strings.ToLower(regexp.MustCompile(`[^a-zA-Z0-9]+`).ReplaceAllString(t.Name(), "-"))
	if len(name) > 50 {
		name = name[:50]
	}
	name = strings.Trim(name, "-")
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}
	if err := k8sClient.Create(context.Background(), ns); err != nil {
		t.Fatal(err)
	}
	return name
}

// backend is one grpcecho server on a network-namespace host.
type backend struct {
	name   string
	host   *netns.Host
	port   int
	labels map[string]string
	// serviceAccount of the backend's Pod ("default" when empty).
	serviceAccount string
	// workload is the agent's output of a meshed backend (startMeshedService).
	workload workload
}

// startBackend runs `grpcecho server` on host and waits until it listens.
func startBackend(t *testing.T, host *netns.Host, name string, labels map[string]string, args ...string) backend {
	t.Helper()
	return startBackendOn(t, host, int(nextPort.Add(1)), name, labels, args...)
}

// startBackendOn is startBackend on a given port.
func startBackendOn(t *testing.T, host *netns.Host, port int, name string, labels map[string]string, args ...string) backend {
	t.Helper()
	b := backend{name: name, host: host, port: port, labels: labels}
	cmd := host.Command(echoBin, append([]string{"server", "--name", name, "--listen", host.Addr(b.port)}, args...)...)
	waitForLine(t, cmd, "READY", 30*time.Second)
	return b
}

// waitForLine starts cmd and waits until its stdout prints a line starting
// with prefix; the process is killed when the test ends.
func waitForLine(t *testing.T, cmd *exec.Cmd, prefix string, timeout time.Duration) {
	t.Helper()
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	found := make(chan bool, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if strings.HasPrefix(sc.Text(), prefix) {
				found <- true
				for sc.Scan() {
				}
				return
			}
		}
		found <- false
	}()
	select {
	case ok := <-found:
		if !ok {
			t.Fatalf("%s exited before printing %s:\n%s", cmd.Args, prefix, stderr.String())
		}
	case <-time.After(timeout):
		t.Fatalf("%s did not print %s within %s:\n%s", cmd.Args, prefix, timeout, stderr.String())
	}
}

// createService creates a Service named name with one gRPC port, a Pod per
// backend (carrying its labels) and the EndpointSlice the endpoint
// controller would write for them.
func createService(t *testing.T, ns, name string, port int, backends ...backend) {
	t.Helper()
	svc := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		Spec: corev1.ServiceSpec{
			Selector: map[string]string{"app": name},
			Ports:    []corev1.ServicePort{{Name: "grpc", Port: int32(port), TargetPort: intstr.FromInt32(int32(port))}},
		},
	}
	create(t, svc)
	slice := &discoveryv1.EndpointSlice{
		ObjectMeta:  metav1.ObjectMeta{Name: name + "-1", Namespace: ns, Labels: map[string]string{discoveryv1.LabelServiceName: name}},
		AddressType: discoveryv1.AddressTypeIPv4,
	}
	for _, b := range backends {
		labels := map[string]string{"app": name}
		for k, v := range b.labels {
			labels[k] = v
		}
		pod := &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: b.name, Namespace: ns, Labels: labels},
			Spec:       corev1.PodSpec{ServiceAccountName: b.serviceAccount, Containers: []corev1.Container{{Name: "echo", Image: "grpcecho"}}},
		}
		create(t, pod)
		slice.Endpoints = append(slice.Endpoints, discoveryv1.Endpoint{
			Addresses:  []string{b.host.IP},
			Conditions: discoveryv1.EndpointConditions{Ready: ptr.To(true)},
			TargetRef:  &corev1.ObjectReference{Kind: "Pod", Namespace: ns, Name: b.name},
		})
		if len(slice.Ports) == 0 {
			slice.Ports = []discoveryv1.EndpointPort{{Name: ptr.To("grpc"), Port: ptr.To(int32(b.port))}}
		} else if *slice.Ports[0].Port != int32(b.port) {
			t.Fatalf("backends of one slice must share a port")
		}
	}
	create(t, slice)
}

func create(t *testing.T, obj client.Object) {
	t.Helper()
	if err := k8sClient.Create(context.Background(), obj); err != nil {
		t.Fatalf("create %T %s: %v", obj, obj.GetName(), err)
	}
}

// apply creates or replaces Istio objects written as YAML, exactly as a
// user would write them (any served apiVersion).
func apply(t *testing.T, ns, manifests string) {
	t.Helper()
	ctx := context.Background()
	for _, doc := range strings.Split(manifests, "\n---\n") {
		if strings.TrimSpace(doc) == "" {
			continue
		}
		obj := &unstructured.Unstructured{}
		if err := yaml.Unmarshal([]byte(doc), &obj.Object); err != nil {
			t.Fatalf("manifest: %v\n%s", err, doc)
		}
		obj.SetNamespace(ns)
		// discovery writes status on what it serves: an update may race with it.
		err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
			var existing unstructured.Unstructured
			existing.SetGroupVersionKind(obj.GroupVersionKind())
			err := k8sClient.Get(ctx, client.ObjectKeyFromObject(obj), &existing)
			switch {
			case apierrors.IsNotFound(err):
				return k8sClient.Create(ctx, obj)
			case err != nil:
				return err
			}
			obj.SetResourceVersion(existing.GetResourceVersion())
			return k8sClient.Update(ctx, obj)
		})
		if err != nil {
			t.Fatalf("apply %s %s: %v", obj.GetKind(), obj.GetName(), err)
		}
		if (obj.GroupVersionKind().Group == "networking.istio.io" && obj.GetKind() != "WorkloadGroup") || obj.GetKind() == "PeerAuthentication" {
			waitInModel(t, obj)
		}
	}
}

// waitInModel waits until discovery's model was built from obj as written
// (/debug/configz), so a client started afterwards is given config with it.
func waitInModel(t *testing.T, obj *unstructured.Unstructured) {
	t.Helper()
	want := obj.GetKind() + " " + obj.GetNamespace() + "/" + obj.GetName()
	var seen []struct {
		Object          string `json:"object"`
		ResourceVersion string `json:"resourceVersion"`
	}
	err := wait.PollUntilContextTimeout(context.Background(), 50*time.Millisecond, 30*time.Second, true, func(context.Context) (bool, error) {
		resp, err := http.Get("http://" + plane.monitoringAddr + "/debug/configz")
		if err != nil {
			return false, nil
		}
		defer func() { _ = resp.Body.Close() }()
		var body struct {
			Objects []struct {
				Object          string `json:"object"`
				ResourceVersion string `json:"resourceVersion"`
			} `json:"objects"`
		}
		if json.NewDecoder(resp.Body).Decode(&body) != nil {
			return false, nil
		}
		seen = body.Objects
		for _, o := range body.Objects {
			if o.Object == want && o.ResourceVersion == obj.GetResourceVersion() {
				return true, nil
			}
		}
		return false, nil
	})
	if err != nil {
		t.Fatalf("%s (resourceVersion %s) never reached discovery's model; /debug/configz: %v", want, obj.GetResourceVersion(), seen)
	}
}

// clientEnv is the environment of a proxyless gRPC client in namespace ns.
func clientEnv(t *testing.T, ns, name string) []string {
	t.Helper()
	doc, err := grpcbootstrap.Bootstrap(plane.xdsAddr, nodeID(ns, name),
		map[string]any{"GENERATOR": "grpc", "NAMESPACE": ns, "LABELS": map[string]any{"app": name}})
	if err != nil {
		t.Fatal(err)
	}
	return append(os.Environ(), grpcbootstrap.EnvConfig+"="+string(doc))
}

func nodeID(ns, name string) string {
	return fmt.Sprintf("sidecar~127.0.0.1~%s.%s~%s.svc.cluster.local", name, ns, ns)
}

// summary is what `grpcecho client` prints.
type summary struct {
	Total    int            `json:"total"`
	OK       int            `json:"ok"`
	Backends map[string]int `json:"backends"`
	Codes    map[string]int `json:"codes"`
	Errors   map[string]int `json:"errors"`
	// Identities counts successful calls by "server=<id> client=<id>" (SPIFFE ids, or
	// "plaintext").
	Identities map[string]int `json:"identities"`
}

// runClient runs `grpcecho client` to completion and returns its summary.
func runClient(t *testing.T, ns, target string, args ...string) summary {
	t.Helper()
	cmd := exec.Command(echoBin, append([]string{"client", "--target", target}, args...)...)
	cmd.Env = clientEnv(t, ns, "client")
	return runSummary(t, cmd)
}

// runSummary runs a client to completion and decodes the one JSON summary
// it prints (grpcecho's, or the same shape from another client).
func runSummary(t *testing.T, cmd *exec.Cmd) summary {
	t.Helper()
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("%v: %v\n%s", cmd.Args, err, stderr.String())
	}
	var s summary
	if err := json.Unmarshal(stdout.Bytes(), &s); err != nil {
		t.Fatalf("%v output: %v\n%s\n%s", cmd.Args, err, stdout.String(), stderr.String())
	}
	return s
}

func itoa(n int) string { return strconv.Itoa(n) }

// deleteService removes a Service and its EndpointSlice.
func deleteService(t *testing.T, ns, name string) {
	t.Helper()
	ctx := context.Background()
	for _, obj := range []client.Object{
		&corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}},
		&discoveryv1.EndpointSlice{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name + "-1"}},
	} {
		if err := k8sClient.Delete(ctx, obj); err != nil {
			t.Fatalf("delete %T %s: %v", obj, name, err)
		}
	}
}

// metricFamilies reads the control plane's /metrics.
func metricFamilies(t *testing.T) map[string]*dto.MetricFamily {
	t.Helper()
	resp, err := http.Get("http://" + plane.monitoringAddr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = resp.Body.Close() }()
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return families
}

// counterWithLabel is the value of the counter name whose label has value (0 if none).
func counterWithLabel(t *testing.T, name, label, value string) (float64, bool) {
	t.Helper()
	for _, m := range metricFamilies(t)[name].GetMetric() {
		for _, l := range m.GetLabel() {
			if l.GetName() == label && l.GetValue() == value {
				return m.GetCounter().GetValue(), true
			}
		}
	}
	return 0, false
}
