package e2e

import (
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
)

// loom runs the built binary with the test's dev-cluster state folder.
func loom(t *testing.T, stateDir string, args ...string) (string, error) {
	t.Helper()
	cmd := exec.CommandContext(t.Context(), loomBin, args...)
	cmd.Env = append(os.Environ(), "LOOM_DEV_DIR="+stateDir, "LOOM_K8S_ASSETS="+assets)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func TestDevClusterUpKubeconfigDown(t *testing.T) {
	stateDir := t.TempDir()
	if out, err := loom(t, stateDir, "dev", "cluster", "kubeconfig"); err == nil {
		t.Fatalf("kubeconfig with no cluster running succeeded: %s", out)
	}
	out, err := loom(t, stateDir, "dev", "cluster", "up", "--detach")
	if err != nil {
		t.Fatalf("up --detach: %v\n%s", err, out)
	}
	t.Cleanup(func() { _, _ = loom(t, stateDir, "dev", "cluster", "down") })

	kubeconfig, err := loom(t, stateDir, "dev", "cluster", "kubeconfig")
	if err != nil {
		t.Fatalf("kubeconfig: %v\n%s", err, kubeconfig)
	}
	kubeconfig = strings.TrimSpace(kubeconfig)
	if !strings.Contains(out, "export KUBECONFIG="+kubeconfig) {
		t.Errorf("up did not tell how to use the cluster:\n%s", out)
	}
	nodes, err := exec.CommandContext(t.Context(), assets+"/kubectl", "--kubeconfig", kubeconfig, "get", "nodes", "--no-headers").CombinedOutput()
	if err != nil || !strings.Contains(string(nodes), "kwok-node-0") || !strings.Contains(string(nodes), " Ready ") {
		t.Fatalf("kubectl get nodes: %v\n%s", err, nodes)
	}

	again, err := loom(t, stateDir, "dev", "cluster", "up", "--detach")
	if err != nil || !strings.Contains(again, "already running") {
		t.Fatalf("second up: %v\n%s", err, again)
	}

	pidText, err := os.ReadFile(stateDir + "/supervisor.pid")
	if err != nil {
		t.Fatal(err)
	}
	sid, err := strconv.Atoi(strings.TrimSpace(string(pidText)))
	if err != nil {
		t.Fatal(err)
	}
	if n := len(sessionProcesses(t, sid)); n < 6 {
		t.Fatalf("expected the supervisor and its components in session %d, found %d processes", sid, n)
	}
	if out, err := loom(t, stateDir, "dev", "cluster", "down"); err != nil {
		t.Fatalf("down: %v\n%s", err, out)
	}
	assertSessionEmpty(t, sid)
	if out, err := loom(t, stateDir, "dev", "cluster", "kubeconfig"); err == nil {
		t.Errorf("kubeconfig after down succeeded: %s", out)
	}
}
