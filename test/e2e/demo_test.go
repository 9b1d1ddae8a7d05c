package e2e

import (
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
)

// TestDemoRunsTwiceInARow runs the README's demo non-interactively, twice, and checks that it
// shows the reconciled mesh and leaves no process behind.
func TestDemoRunsTwiceInARow(t *testing.T) {
	stateDir := t.TempDir()
	for run := 1; run <= 2; run++ {
		cmd := exec.CommandContext(t.Context(), "bash", repoRoot+"/hack/demo.sh", "--once")
		cmd.Env = append(os.Environ(), "LOOM_BIN="+loomBin, "LOOM_K8S_ASSETS="+assets, "LOOM_DEV_DIR="+stateDir)
		cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("demo run %d: %v\n%s", run, err, out)
		}
		if !meshRowReconciled(string(out)) {
			t.Fatalf("demo run %d did not show the reconciled mesh:\n%s", run, out)
		}
		assertSessionEmpty(t, cmd.Process.Pid)
	}
}

// meshRowReconciled finds the `kubectl get mesh` row of the sample with Reconciled True.
func meshRowReconciled(out string) bool {
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		if len(f) == 4 && f[0] == "loom" && f[1] == "default" && f[2] == "True" {
			return true
		}
	}
	return false
}
