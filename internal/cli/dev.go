//go:build !nodev

package cli

import (
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"strconv"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"loom.dev/loom/internal/devcluster"
)

func newDevCommand() *cobra.Command {
	dev := &cobra.Command{Use: "dev", Short: "Tools for developing Loom locally"}
	cluster := &cobra.Command{Use: "cluster", Short: "Run a local Kubernetes control plane with fake nodes"}
	cluster.AddCommand(newClusterUpCommand(), newClusterDownCommand(), newClusterKubeconfigCommand())
	dev.AddCommand(cluster, newImageCommand(), newBundleCommand())
	return dev
}

func newClusterUpCommand() *cobra.Command {
	var (
		nodes  int
		detach bool
		node   realNodeFlags
	)
	cmd := &cobra.Command{
		Use:   "up",
		Short: "Start the local cluster; runs until interrupted or `loom dev cluster down` (or returns once ready with --detach)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if len(node.images) > 0 && !node.enabled {
				return fmt.Errorf("--image imports into the real node: add --real-node")
			}
			state := devcluster.DefaultState()
			if pid, ok := state.Supervisor(); ok {
				fmt.Fprintf(cmd.OutOrStdout(), "local cluster already running (pid %d)\n", pid)
				printClusterUsage(cmd, state)
				return nil
			}
			if detach {
				return startDetached(cmd, state, nodes, node)
			}
			return runCluster(cmd, state, nodes, node)
		},
	}
	cmd.Flags().IntVar(&nodes, "nodes", 1, "Number of fake kwok nodes")
	cmd.Flags().BoolVar(&detach, "detach", false, "Run the cluster in the background and return once it is ready")
	cmd.Flags().BoolVar(&node.enabled, "real-node", false, "Add a real node (kubelet, containerd, kube-proxy, cluster DNS) that runs pods for real; root only, one per machine")
	cmd.Flags().StringArrayVar(&node.images, "image", nil, "Image tarball to import into the real node (repeatable), e.g. bin/images/loom-dev-linux-amd64.tar")
	return cmd
}

// realNodeFlags are `up`'s flags for the real node.
type realNodeFlags struct {
	enabled bool
	images  []string
}

func (f realNodeFlags) options() *devcluster.RealNodeOptions {
	if !f.enabled {
		return nil
	}
	return &devcluster.RealNodeOptions{Images: f.images}
}

func (f realNodeFlags) args() []string {
	if !f.enabled {
		return nil
	}
	args := []string{"--real-node"}
	for _, image := range f.images {
		args = append(args, "--image", image)
	}
	return args
}

func runCluster(cmd *cobra.Command, state devcluster.State, nodes int, node realNodeFlags) error {
	ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := state.Claim(); err != nil {
		return err
	}
	defer state.Clear()

	cluster, err := devcluster.Start(ctx, devcluster.Options{Nodes: nodes, RealNode: node.options()})
	if err != nil {
		return err
	}
	defer func() {
		if err := cluster.Stop(); err != nil {
			fmt.Fprintln(cmd.ErrOrStderr(), "stopping local cluster:", err)
		}
	}()
	kubeconfig, err := os.ReadFile(cluster.KubeconfigPath)
	if err != nil {
		return err
	}
	if err := state.MarkReady(kubeconfig); err != nil {
		return err
	}
	printClusterUsage(cmd, state)
	fmt.Fprintln(cmd.OutOrStdout(), "Stop it with Ctrl-C or `loom dev cluster down`.")
	<-ctx.Done()
	fmt.Fprintln(cmd.OutOrStdout(), "stopping local cluster")
	return nil
}

// startDetached runs `loom dev cluster up` in a new session and waits until it is ready.
func startDetached(cmd *cobra.Command, state devcluster.State, nodes int, node realNodeFlags) error {
	self, err := os.Executable()
	if err != nil {
		return err
	}
	if err := os.MkdirAll(state.Dir, 0o755); err != nil {
		return err
	}
	logFile, err := os.Create(state.LogPath())
	if err != nil {
		return err
	}
	defer func() { _ = logFile.Close() }() // the child holds its own descriptor
	child := exec.Command(self, append([]string{"dev", "cluster", "up", "--nodes", strconv.Itoa(nodes)}, node.args()...)...)
	child.Stdout, child.Stderr = logFile, logFile
	child.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := child.Start(); err != nil {
		return err
	}
	exited := make(chan error, 1)
	go func() { exited <- child.Wait() }()
	if err := waitReady(state, 3*time.Minute, exited); err != nil {
		_ = child.Process.Signal(syscall.SIGTERM)
		return fmt.Errorf("%w; see %s", err, state.LogPath())
	}
	printClusterUsage(cmd, state)
	return nil
}

func waitReady(state devcluster.State, timeout time.Duration, exited <-chan error) error {
	deadline := time.After(timeout)
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	for !state.Ready() {
		select {
		case err := <-exited:
			return fmt.Errorf("local cluster exited before it was ready: %v", err)
		case <-deadline:
			return fmt.Errorf("local cluster not ready after %s", timeout)
		case <-tick.C:
		}
	}
	return nil
}

func newClusterDownCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "down",
		Short: "Stop the local cluster and every process it started",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			state := devcluster.DefaultState()
			pid, ok := state.Supervisor()
			if !ok {
				state.Clear()
				fmt.Fprintln(cmd.OutOrStdout(), "no local cluster running")
				return nil
			}
			_ = syscall.Kill(pid, syscall.SIGTERM)
			deadline := time.Now().Add(30 * time.Second)
			for {
				if _, ok := state.Supervisor(); !ok {
					break
				}
				if time.Now().After(deadline) {
					// Its reaper kills the components once the supervisor is gone.
					_ = syscall.Kill(pid, syscall.SIGKILL)
					state.Clear()
					break
				}
				time.Sleep(100 * time.Millisecond)
			}
			fmt.Fprintln(cmd.OutOrStdout(), "local cluster stopped")
			return nil
		},
	}
}

func newClusterKubeconfigCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "kubeconfig",
		Short: "Print the path of the running local cluster's kubeconfig",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			state := devcluster.DefaultState()
			if !state.Ready() {
				return fmt.Errorf("no local cluster running; start one with `loom dev cluster up`")
			}
			fmt.Fprintln(cmd.OutOrStdout(), state.KubeconfigPath())
			return nil
		},
	}
}

func printClusterUsage(cmd *cobra.Command, state devcluster.State) {
	out := cmd.OutOrStdout()
	fmt.Fprintln(out, "Local cluster ready. Use it with:")
	fmt.Fprintf(out, "  export KUBECONFIG=%s\n", state.KubeconfigPath())
	if assets, err := devcluster.FindAssets(); err == nil {
		fmt.Fprintf(out, "  %s/kubectl get nodes\n", assets)
	}
}
