package devcluster

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// StateDirEnv names the environment variable that moves the state folder of `loom dev cluster`.
const StateDirEnv = "LOOM_DEV_DIR"

// State is the folder through which `loom dev cluster up`, `down` and `kubeconfig` find the
// running cluster: the supervisor's pid, and the kubeconfig once the cluster is ready.
type State struct{ Dir string }

// DefaultState is $LOOM_DEV_DIR, else a folder in the user's cache.
func DefaultState() State {
	if dir := os.Getenv(StateDirEnv); dir != "" {
		return State{Dir: dir}
	}
	cache, err := os.UserCacheDir()
	if err != nil {
		cache = os.TempDir()
	}
	return State{Dir: filepath.Join(cache, "loom", "dev-cluster")}
}

func (s State) pidFile() string { return filepath.Join(s.Dir, "supervisor.pid") }

// KubeconfigPath is where a ready cluster's admin kubeconfig is written.
func (s State) KubeconfigPath() string { return filepath.Join(s.Dir, "kubeconfig") }

// LogPath is where a detached supervisor writes its output.
func (s State) LogPath() string { return filepath.Join(s.Dir, "cluster.log") }

// Claim records the calling process as the supervisor.
func (s State) Claim() error {
	if err := os.MkdirAll(s.Dir, 0o755); err != nil {
		return err
	}
	return os.WriteFile(s.pidFile(), []byte(strconv.Itoa(os.Getpid())), 0o644)
}

// MarkReady publishes the kubeconfig of the running cluster.
func (s State) MarkReady(kubeconfig []byte) error {
	tmp := s.KubeconfigPath() + ".tmp"
	if err := os.WriteFile(tmp, kubeconfig, 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, s.KubeconfigPath())
}

// Clear forgets the cluster.
func (s State) Clear() {
	_ = os.Remove(s.KubeconfigPath())
	_ = os.Remove(s.pidFile())
}

// Supervisor returns the pid of the running supervisor, or false when there is none.
func (s State) Supervisor() (int, bool) {
	data, err := os.ReadFile(s.pidFile())
	if err != nil {
		return 0, false
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(data)))
	if err != nil {
		return 0, false
	}
	return pid, isSupervisor(pid)
}

// Ready reports whether a running cluster has published its kubeconfig.
func (s State) Ready() bool {
	if _, ok := s.Supervisor(); !ok {
		return false
	}
	_, err := os.Stat(s.KubeconfigPath())
	return err == nil
}

// isSupervisor checks that pid is alive and is a `loom dev cluster up`,
// so that a stale pid file never makes `down` signal an unrelated process.
func isSupervisor(pid int) bool {
	if !processAlive(pid) {
		return false
	}
	cmdline, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	return err == nil && bytes.Contains(cmdline, []byte("dev\x00cluster\x00up"))
}
