// Package integration tests the operator against a real kube-apiserver and etcd.
package integration

import (
	"context"
	"fmt"
	"os"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	"testing"

	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"loom.dev/loom/internal/devcluster"
	"loom.dev/loom/internal/operator"
)

var (
	cluster   *devcluster.Cluster
	k8sClient client.Client
)

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	ctrl.SetLogger(zap.New(zap.WriteTo(os.Stderr)))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var err error
	cluster, err = devcluster.Start(ctx, devcluster.Options{Nodes: 1, CRDDirectoryPaths: []string{"../../config/crd/bases"}})
	if err != nil {
		fmt.Fprintln(os.Stderr, "starting cluster:", err)
		return 1
	}
	defer cluster.Stop()

	if k8sClient, err = client.New(cluster.Config, client.Options{Scheme: operator.Scheme()}); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	stopped, err := startOperator(ctx, cluster.Config)
	if err != nil {
		fmt.Fprintln(os.Stderr, "starting operator:", err)
		return 1
	}
	code := m.Run()
	// Stop watching before the apiserver goes, or it waits for the watches to drain.
	cancel()
	<-stopped
	return code
}

// startOperator runs the operator's manager until ctx ends; the channel closes once it stopped.
func startOperator(ctx context.Context, cfg *rest.Config) (<-chan struct{}, error) {
	mgr, err := operator.NewManager(cfg, operator.Options{MetricsBindAddress: "0", HealthProbeBindAddress: "0"})
	if err != nil {
		return nil, err
	}
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		if err := mgr.Start(ctx); err != nil {
			fmt.Fprintln(os.Stderr, "operator stopped:", err)
		}
	}()
	return stopped, nil
}
