// Package integration tests the operator against a real kube-apiserver and etcd.
package integration

import (
	"context"
	"fmt"
	networkingv1 "istio.io/client-go/pkg/apis/networking/v1"
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
	// operatorRESTConfig is what the operator runs with: its ServiceAccount's permissions.
	operatorRESTConfig *rest.Config
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
	defer func() {
		if err := cluster.Stop(); err != nil {
			fmt.Fprintln(os.Stderr, "stopping cluster:", err)
		}
	}()

	scheme := operator.Scheme()
	if err := networkingv1.AddToScheme(scheme); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	if k8sClient, err = client.New(cluster.Config, client.Options{Scheme: scheme}); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	if operatorRESTConfig, err = operatorConfig(ctx, k8sClient, cluster.Config); err != nil {
		fmt.Fprintln(os.Stderr, "installing the operator's RBAC:", err)
		return 1
	}
	if err := startOperator(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "starting operator:", err)
		return 1
	}
	code := m.Run()
	// Stop watching before the apiserver goes, or it waits for the watches to drain.
	stopOperator()
	return code
}

// The running operator: tests run one at a time, so one package-level operator is enough.
var (
	stopOperatorCtx context.CancelFunc
	operatorStopped chan struct{}
)

// startOperator runs the operator's manager, as `loom operator` does, until stopOperator.
func startOperator(ctx context.Context) error {
	mgr, err := operator.NewManager(operatorRESTConfig, operator.Options{
		MetricsBindAddress: "0", HealthProbeBindAddress: "0", SkipNameValidation: true,
		// As deployed: a restarted operator must win the lease before it reconciles.
		LeaderElection: true, LeaderElectionNamespace: operatorNamespace,
	})
	if err != nil {
		return err
	}
	ctx, stopOperatorCtx = context.WithCancel(ctx)
	operatorStopped = make(chan struct{})
	go func() {
		defer close(operatorStopped)
		if err := mgr.Start(ctx); err != nil {
			fmt.Fprintln(os.Stderr, "operator stopped:", err)
		}
	}()
	return nil
}

func stopOperator() {
	stopOperatorCtx()
	<-operatorStopped
}
