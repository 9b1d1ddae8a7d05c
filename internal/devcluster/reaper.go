package devcluster

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"time"
)

// reaperScript waits for the process that owns the cluster to die, then kills every process
// group listed in the pid file, undoes a real node's host changes and removes the cluster
// folder, unless a mount is left in it. It is what keeps a test binary that panics or is
// killed by `go test -timeout` from leaving etcd and friends behind.
const reaperScript = `while kill -0 "$1" 2>/dev/null; do sleep 0.5; done
for p in $(cat "$2" 2>/dev/null); do kill -KILL -- "-$p" 2>/dev/null; kill -KILL "$p" 2>/dev/null; done
for undo in undo-runtime.sh undo-host.sh; do [ -f "$3/$undo" ] && /bin/sh "$3/$undo"; done
awk '{print $5}' /proc/self/mountinfo | grep -qF "$3/" || rm -rf "$3"`

// reaper is a watchdog process that outlives its owner only long enough to clean up.
type reaper struct {
	mu      sync.Mutex
	pidFile string
	known   map[int]bool
	cmd     *exec.Cmd
}

// startReaper starts the watchdog; it holds the inherited files (a lock) until it is done.
func startReaper(clusterDir string, inherit ...*os.File) (*reaper, error) {
	r := &reaper{pidFile: filepath.Join(clusterDir, "pids"), known: map[int]bool{}}
	cmd := exec.Command("/bin/sh", "-c", reaperScript, "loom-cluster-reaper", strconv.Itoa(os.Getpid()), r.pidFile, clusterDir)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.ExtraFiles = inherit
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting cluster reaper: %w", err)
	}
	r.cmd = cmd
	return r, nil
}

// watch records pids (each the leader of its process group) for the reaper to kill.
func (r *reaper) watch(pids ...int) (err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	f, err := os.OpenFile(r.pidFile, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, f.Close()) }()
	for _, pid := range pids {
		if r.known[pid] {
			continue
		}
		r.known[pid] = true
		if _, err := fmt.Fprintln(f, pid); err != nil {
			return err
		}
	}
	return nil
}

// stop ends the watchdog; the owner cleans up itself. The whole process group goes, and
// stop returns once it has: the shell's `sleep` has inherited the lock too, and holds it
// until it has exited.
func (r *reaper) stop() {
	pgid := r.cmd.Process.Pid
	_ = syscall.Kill(-pgid, syscall.SIGKILL)
	_ = r.cmd.Wait()
	for deadline := time.Now().Add(5 * time.Second); groupRunning(pgid) && time.Now().Before(deadline); {
		time.Sleep(5 * time.Millisecond)
	}
}
