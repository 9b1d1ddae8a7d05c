package kubectlmesh

import (
	"bytes"
	"context"
	"os"
	"testing"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/client-go/kubernetes/fake"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	ctrlfake "sigs.k8s.io/controller-runtime/pkg/client/fake"
)

// workloadPod is a running injected pod of app at version.
func workloadPod(name, app, version, ip string) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "demo", Labels: map[string]string{"app": app, "version": version}},
		Spec:       corev1.PodSpec{NodeName: "node-1", ServiceAccountName: app, Containers: []corev1.Container{{Name: app, Image: app}, {Name: "istio-proxy", Image: "loom-proxy", Args: []string{"proxy", "sidecar"}}}},
		Status:     corev1.PodStatus{Phase: corev1.PodRunning, PodIP: ip, PodIPs: []corev1.PodIP{{IP: ip}}},
	}
}

// meshService is a Service on port 9080 and its EndpointSlice with the pods.
func meshService(name, clusterIP string, pods ...*corev1.Pod) []client.Object {
	svc := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "demo"},
		Spec: corev1.ServiceSpec{ClusterIP: clusterIP, ClusterIPs: []string{clusterIP}, Selector: map[string]string{"app": name},
			Ports: []corev1.ServicePort{{Name: "http", Port: 9080, Protocol: corev1.ProtocolTCP}}},
	}
	slice := &discoveryv1.EndpointSlice{
		ObjectMeta:  metav1.ObjectMeta{Name: name + "-x1", Namespace: "demo", Labels: map[string]string{discoveryv1.LabelServiceName: name}},
		AddressType: discoveryv1.AddressTypeIPv4,
		Ports:       []discoveryv1.EndpointPort{{Name: ptr.To("http"), Port: ptr.To[int32](9080), Protocol: ptr.To(corev1.ProtocolTCP)}},
	}
	objs := []client.Object{svc, slice}
	for _, p := range pods {
		slice.Endpoints = append(slice.Endpoints, discoveryv1.Endpoint{
			Addresses:  []string{p.Status.PodIP},
			Conditions: discoveryv1.EndpointConditions{Ready: ptr.To(true)},
			NodeName:   ptr.To("node-1"),
			TargetRef:  &corev1.ObjectReference{Kind: "Pod", Namespace: p.Namespace, Name: p.Name},
		})
		objs = append(objs, p)
	}
	return objs
}

// bookinfo is productpage calling reviews v1 and v2, without Istio config.
func bookinfo() []client.Object {
	objs := meshService("productpage", "10.0.0.110", workloadPod("productpage-1", "productpage", "v1", "10.1.0.10"))
	objs = append(objs, meshService("reviews", "10.0.0.120",
		workloadPod("reviews-v1-1", "reviews", "v1", "10.1.0.20"), workloadPod("reviews-v2-1", "reviews", "v2", "10.1.0.21"))...)
	return append(objs, &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "node-1"}})
}

// fakeCluster is a cluster with the objects and the Istio objects of the YAML files, which
// the fake client cannot serve itself (it knows no Istio kinds).
func fakeCluster(t *testing.T, objs []client.Object, istioFiles ...string) client.Client {
	t.Helper()
	c := ctrlfake.NewClientBuilder().WithScheme(Scheme()).WithObjects(objs...).Build()
	var istio []*unstructured.Unstructured
	for _, f := range istioFiles {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		ms, err := decodeManifests(bytes.NewReader(data), f, "demo")
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range ms {
			m.SetUID("cluster-" + m.GetUID())
			m.SetResourceVersion("1")
			istio = append(istio, m.Unstructured)
		}
	}
	return overlayClient{Client: c, reader: &overlayReader{base: c, scheme: Scheme(), objects: istio}}
}

// runOver runs kubectl-mesh with args against the cluster reader (in namespace demo).
func runOver(t *testing.T, cluster client.Client, stdin string, args ...string) (string, error) {
	t.Helper()
	var out bytes.Buffer
	o := &Options{
		IO: genericiooptions.IOStreams{In: bytes.NewBufferString(stdin), Out: &out, ErrOut: &out},
		clients: func() (*Clients, error) {
			return &Clients{Client: cluster, Clientset: fake.NewClientset()}, nil
		},
		namespace: func() (string, error) { return "demo", nil },
	}
	cmd := rootCommand(o)
	cmd.SetArgs(args)
	err := cmd.ExecuteContext(context.Background())
	return out.String(), err
}

// overlayClient is the fake client with Istio objects laid over it for reading.
type overlayClient struct {
	client.Client
	reader *overlayReader
}

func (c overlayClient) Get(ctx context.Context, key client.ObjectKey, obj client.Object, opts ...client.GetOption) error {
	return c.reader.Get(ctx, key, obj, opts...)
}

func (c overlayClient) List(ctx context.Context, list client.ObjectList, opts ...client.ListOption) error {
	return c.reader.List(ctx, list, opts...)
}
