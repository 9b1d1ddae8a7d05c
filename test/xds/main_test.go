// Package xds runs `loom discovery` against a real kube-apiserver and drives
// real proxyless gRPC clients and servers (google.golang.org/grpc/xds) through
// it, with backends on their own network namespaces so EndpointSlices hold
// real, routable addresses.
package xds

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	networkingv1 "istio.io/client-go/pkg/apis/networking/v1"
	corev1 "k8s.io/api/core/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"

	"loom.dev/loom/internal/devcluster"
	"loom.dev/loom/pkg/istiocrds"
	"loom.dev/loom/test/netns"
)

var (
	cluster   *devcluster.Cluster
	k8sClient client.Client
	loomBin   string
	echoBin   string
	network   *netns.Network
	plane     *discoveryProcess
)

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	ctrl.SetLogger(zap.New(zap.WriteTo(os.Stderr)))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	fail := func(what string, err error) int {
		fmt.Fprintf(os.Stderr, "%s: %v\n", what, err)
		return 1
	}
	binDir, err := os.MkdirTemp("", "loom-xds-e2e-")
	if err != nil {
		return fail("temp dir", err)
	}
	defer func() { _ = os.RemoveAll(binDir) }()
	loomBin, echoBin = filepath.Join(binDir, "loom"), filepath.Join(binDir, "grpcecho")
	for bin, pkg := range map[string]string{loomBin: ".", echoBin: "./test/grpcecho"} {
		build := exec.Command("go", "build", "-o", bin, pkg)
		build.Dir = "../.."
		if out, err := build.CombinedOutput(); err != nil {
			return fail("building "+pkg, fmt.Errorf("%w\n%s", err, out))
		}
	}
	if cluster, err = devcluster.Start(ctx, devcluster.Options{}); err != nil {
		return fail("starting cluster", err)
	}
	defer func() {
		if err := cluster.Stop(); err != nil {
			fmt.Fprintln(os.Stderr, "stopping cluster:", err)
		}
	}()
	scheme := runtime.NewScheme()
	for _, add := range []func(*runtime.Scheme) error{clientgoscheme.AddToScheme, networkingv1.AddToScheme, apiextensionsv1.AddToScheme} {
		if err := add(scheme); err != nil {
			return fail("scheme", err)
		}
	}
	if k8sClient, err = client.New(cluster.Config, client.Options{Scheme: scheme}); err != nil {
		return fail("client", err)
	}
	if err := installIstioCRDs(ctx); err != nil {
		return fail("installing Istio CRDs", err)
	}
	if network, err = netns.New(4); err != nil {
		return fail("network namespaces", err)
	}
	defer func() {
		if err := network.Close(); err != nil {
			fmt.Fprintln(os.Stderr, "removing network namespaces:", err)
		}
	}()
	// The root namespace holds the mesh CA's Secret and state.
	if err := k8sClient.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "istio-system"}}); err != nil {
		return fail("creating istio-system", err)
	}
	if plane, err = startDiscovery(); err != nil {
		return fail("starting loom discovery", err)
	}
	defer plane.stop()
	return m.Run()
}

func installIstioCRDs(ctx context.Context) error {
	objs, err := istiocrds.Objects()
	if err != nil {
		return err
	}
	for _, o := range objs {
		if err := k8sClient.Create(ctx, o); err != nil {
			return err
		}
	}
	for _, o := range objs {
		if err := waitEstablished(ctx, o.GetName()); err != nil {
			return err
		}
	}
	return nil
}
