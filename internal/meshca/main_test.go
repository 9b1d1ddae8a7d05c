package meshca

import (
	"context"
	"fmt"
	"os"
	"testing"

	"k8s.io/client-go/kubernetes"

	"loom.dev/loom/internal/devcluster"
)

// cluster is a real kube-apiserver and etcd: TokenRequest, TokenReview, Secrets and
// ConfigMaps are the apiserver's own, not fakes.
var (
	cluster *devcluster.Cluster
	kube    kubernetes.Interface
)

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	var err error
	if cluster, err = devcluster.Start(context.Background(), devcluster.Options{}); err != nil {
		fmt.Fprintln(os.Stderr, "starting cluster:", err)
		return 1
	}
	defer func() {
		if err := cluster.Stop(); err != nil {
			fmt.Fprintln(os.Stderr, "stopping cluster:", err)
		}
	}()
	if kube, err = kubernetes.NewForConfig(cluster.Config); err != nil {
		fmt.Fprintln(os.Stderr, "client:", err)
		return 1
	}
	return m.Run()
}
