package devcluster

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
)

// Options configure a local cluster.
type Options struct {
	// AssetsDir holds the binaries; empty means FindAssets.
	AssetsDir string
	// Nodes is the number of fake kwok nodes. Zero runs only etcd and kube-apiserver;
	// more also runs kube-controller-manager, kube-scheduler and kwok so that
	// Deployments become Available.
	Nodes int
	// CRDDirectoryPaths are installed once the apiserver is up.
	CRDDirectoryPaths []string
	// RealNode, when set, adds one real node that runs pods for real (root only; one per
	// machine). The apiserver then listens on the node's bridge address instead of loopback,
	// and the fake nodes carry SimulatedTaint.
	RealNode *RealNodeOptions
}

// Cluster is a running local Kubernetes control plane.
type Cluster struct {
	// Config is an admin rest.Config for the apiserver.
	Config *rest.Config
	// KubeconfigPath is an admin kubeconfig file for kubectl and other processes.
	KubeconfigPath string
	// Dir holds the cluster's data, certificates and component logs; Stop removes it.
	Dir string

	assets string
	env    *envtest.Environment
	reaper *reaper
	procs  []*process
	node   *realNode
	logs   []*os.File
}

const (
	startTimeout = 90 * time.Second
	stopGrace    = 10 * time.Second
	// kwokPodCIDR stays clear of envtest's service range 10.0.0.0/24.
	kwokPodCIDR = "10.244.0.0/16"
)

// Start brings up a cluster and waits until it is usable. On error, everything it started
// is stopped again.
func Start(ctx context.Context, opts Options) (_ *Cluster, err error) {
	if opts.RealNode != nil && os.Geteuid() != 0 {
		return nil, errNotRoot
	}
	assets := opts.AssetsDir
	if assets == "" {
		if assets, err = FindAssets(); err != nil {
			return nil, err
		}
	}
	dir, err := os.MkdirTemp("", "loom-cluster-")
	if err != nil {
		return nil, err
	}
	c := &Cluster{Dir: dir, assets: assets, KubeconfigPath: filepath.Join(dir, "kubeconfig")}
	defer func() {
		if err != nil {
			err = errors.Join(err, c.Stop())
		}
	}()
	var inherit []*os.File
	if opts.RealNode != nil {
		if c.node, err = prepareRealNode(ctx, dir); err != nil {
			return nil, err
		}
		inherit = append(inherit, c.node.lock)
	}
	if c.reaper, err = startReaper(dir, inherit...); err != nil {
		return nil, err
	}
	if c.node != nil {
		if err := c.node.setUpHost(dir); err != nil {
			return nil, err
		}
	}
	if err := c.startControlPlane(opts.CRDDirectoryPaths); err != nil {
		return nil, err
	}
	if opts.Nodes > 0 || c.node != nil {
		if err := c.startWorkloadComponents(ctx, opts.Nodes); err != nil {
			return nil, err
		}
	}
	if c.node != nil {
		if err := c.startRealNode(ctx, *opts.RealNode); err != nil {
			return nil, err
		}
	}
	return c, nil
}

func (c *Cluster) startControlPlane(crdPaths []string) error {
	for _, sub := range []string{"logs", "etcd", "certs"} {
		if err := os.MkdirAll(filepath.Join(c.Dir, sub), 0o700); err != nil {
			return err
		}
	}
	env := &envtest.Environment{
		BinaryAssetsDirectory:    c.assets,
		CRDDirectoryPaths:        crdPaths,
		ErrorIfCRDPathMissing:    true,
		ControlPlaneStartTimeout: startTimeout,
		ControlPlaneStopTimeout:  stopGrace,
	}
	env.ControlPlane.Etcd = &envtest.Etcd{DataDir: filepath.Join(c.Dir, "etcd")}
	apiserverLog, err := os.Create(c.LogPath("kube-apiserver"))
	if err != nil {
		return err
	}
	c.logs = append(c.logs, apiserverLog)
	env.ControlPlane.APIServer = &envtest.APIServer{CertDir: filepath.Join(c.Dir, "certs"), Out: apiserverLog, Err: apiserverLog}
	if c.node != nil {
		if err := c.node.configureAPIServer(env.ControlPlane.APIServer); err != nil {
			return err
		}
	}
	c.env = env
	cfg, startErr := env.Start()
	// Record etcd and kube-apiserver even when start failed half way.
	if pids, err := childrenRunning(c.assets); err == nil {
		if err := c.reaper.watch(pids...); err != nil {
			return err
		}
	}
	if startErr != nil {
		return fmt.Errorf("starting etcd and kube-apiserver: %w; kube-apiserver's log ends:\n%s", startErr, tailFile(c.LogPath("kube-apiserver"), 15))
	}
	c.Config = cfg
	return os.WriteFile(c.KubeconfigPath, env.KubeConfig, 0o600)
}

func (c *Cluster) startWorkloadComponents(ctx context.Context, nodes int) error {
	stages, err := c.writeKwokStages()
	if err != nil {
		return err
	}
	components := []struct {
		name string
		args []string
	}{
		{"kube-controller-manager", []string{
			"--kubeconfig=" + c.KubeconfigPath,
			"--controllers=*",
			"--service-account-private-key-file=" + filepath.Join(c.env.ControlPlane.APIServer.CertDir, "sa-signer.key"),
			"--secure-port=0",
			"--leader-elect=false",
		}},
		{"kube-scheduler", []string{
			"--kubeconfig=" + c.KubeconfigPath,
			"--secure-port=0",
			"--leader-elect=false",
		}},
		{"kwok", []string{
			"--kubeconfig=" + c.KubeconfigPath,
			"--config=" + strings.Join(stages, ","),
			"--manage-all-nodes=false",
			"--manage-nodes-with-annotation-selector=" + kwokNodeAnnotation + "=fake",
			"--cidr=" + kwokPodCIDR,
			"--node-ip=127.0.0.1",
			"--server-address=127.0.0.1:0",
		}},
	}
	if c.node != nil {
		// Pods trust the apiserver through the kube-root-ca.crt ConfigMap.
		components[0].args = append(components[0].args, "--root-ca-file="+c.node.certs.CAFile)
	}
	if nodes == 0 {
		components = components[:2]
	}
	for _, comp := range components {
		if err := c.startComponent(comp.name, filepath.Join(c.assets, comp.name), comp.args...); err != nil {
			return err
		}
	}
	if nodes == 0 {
		return nil
	}

	clientset, err := kubernetes.NewForConfig(c.Config)
	if err != nil {
		return err
	}
	for i := range nodes {
		if err := createFakeNode(ctx, clientset, fmt.Sprintf("kwok-node-%d", i), c.node != nil); err != nil {
			return err
		}
	}
	return c.waitUntil(ctx, "fake nodes Ready", func(ctx context.Context) (bool, error) {
		return nodesReady(ctx, clientset, nodes)
	})
}

// startComponent starts a process the cluster owns: Stop ends it, and so does the reaper
// when the owner dies first.
func (c *Cluster) startComponent(name, binary string, args ...string) error {
	p, err := startProcess(name, binary, args, filepath.Join(c.Dir, "logs"))
	if err != nil {
		return err
	}
	c.procs = append(c.procs, p)
	return c.reaper.watch(p.cmd.Process.Pid)
}

// waitUntil polls cond, failing fast with the component's log when a component exits.
func (c *Cluster) waitUntil(ctx context.Context, what string, cond wait.ConditionWithContextFunc) error {
	err := wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, startTimeout, true, func(ctx context.Context) (bool, error) {
		for _, p := range c.procs {
			if p.exited() {
				return false, fmt.Errorf("%s exited; see %s", p.name, c.LogPath(p.name))
			}
		}
		return cond(ctx)
	})
	if err != nil {
		return fmt.Errorf("waiting for %s: %w", what, err)
	}
	return nil
}

// Stop stops every component and removes the cluster folder. It is safe to call twice.
func (c *Cluster) Stop() error {
	var errs []error
	if c.reaper != nil {
		c.reaper.stop()
		c.reaper = nil
	}
	for i := len(c.procs) - 1; i >= 0; i-- {
		c.procs[i].stop(stopGrace)
	}
	c.procs = nil
	keepDir := false
	if c.node != nil {
		if err := c.stopPods(); err != nil {
			errs = append(errs, err)
			keepDir = true
		}
	}
	if c.env != nil {
		if err := c.env.Stop(); err != nil {
			errs = append(errs, err)
		}
		c.env = nil
	}
	if c.node != nil {
		if err := c.stopRealNode(); err != nil {
			errs = append(errs, err)
			keepDir = true
		}
		c.node = nil
	}
	if keepDir {
		// Never delete through a mount a pod may have left (a hostPath, say).
		errs = append(errs, fmt.Errorf("cluster folder %s kept", c.Dir))
	}
	for _, f := range c.logs {
		_ = f.Close()
	}
	c.logs = nil
	if c.Dir != "" && !keepDir {
		errs = append(errs, os.RemoveAll(c.Dir))
	}
	return errors.Join(errs...)
}

// LogPath is the log file of a component the cluster started (not etcd).
func (c *Cluster) LogPath(component string) string {
	return filepath.Join(c.Dir, "logs", component+".log")
}

// Kubectl is the path of the kubectl binary matching the cluster.
func (c *Cluster) Kubectl() string { return filepath.Join(c.assets, "kubectl") }
