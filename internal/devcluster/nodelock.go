package devcluster

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// realNodeLockFile makes the real node one per machine: it owns a fixed bridge, the firewall
// and kernel settings. The cluster's reaper inherits the lock, so the next real node waits
// until the host has been put back.
const realNodeLockFile = "/run/loom-real-node.lock"

// reaperCleanupWait bounds how long a new real node waits for the reaper of one whose owner
// died to put the host back.
const reaperCleanupWait = 2 * time.Minute

// lockRealNode takes the machine's real-node lock or says who holds it. A lock whose
// recorded owner is gone is held by that owner's reaper while it puts the host back: that
// is waited for, up to wait or until ctx ends; a lock whose owner runs is refused at once.
func lockRealNode(ctx context.Context, path, clusterDir string, wait time.Duration) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("opening %s: %w", path, err)
	}
	deadline := time.Now().Add(wait)
	for {
		err = syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			break
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) {
			_ = f.Close()
			return nil, fmt.Errorf("locking %s: %w", path, err)
		}
		owner, _ := os.ReadFile(path)
		if lockOwnerRuns(string(owner)) {
			_ = f.Close()
			return nil, fmt.Errorf("a real node is already running on this machine (%s); there can be one per machine: stop it with `loom dev cluster down`, or leave out --real-node",
				strings.TrimSpace(string(owner)))
		}
		if time.Now().After(deadline) {
			_ = f.Close()
			return nil, fmt.Errorf("the real node that held %s (%s) has ended, but its watchdog has not put the host back within %s; see the watchdog's processes (loom-cluster-reaper)",
				path, strings.TrimSpace(string(owner)), wait)
		}
		select {
		case <-ctx.Done():
			_ = f.Close()
			return nil, fmt.Errorf("waiting for the watchdog of the real node that held %s (%s): %w", path, strings.TrimSpace(string(owner)), ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
	if err := f.Truncate(0); err != nil {
		return nil, errors.Join(err, f.Close())
	}
	if _, err := fmt.Fprintf(f, "pid %d, cluster folder %s\n", os.Getpid(), clusterDir); err != nil {
		return nil, errors.Join(err, f.Close())
	}
	return f, nil
}

// lockOwnerRuns tells whether the process a lock file names still runs. A record that cannot
// be read (being rewritten by a new owner) counts as running: refusing is the safe answer.
func lockOwnerRuns(record string) bool {
	field, _, _ := strings.Cut(strings.TrimPrefix(record, "pid "), ",")
	pid, err := strconv.Atoi(strings.TrimSpace(field))
	if err != nil || pid <= 0 {
		return true
	}
	if errors.Is(syscall.Kill(pid, 0), syscall.ESRCH) {
		return false
	}
	// A killed owner nobody has reaped yet is a zombie: it has ended all the same.
	s, err := readProcStat(pid)
	return err != nil || s.state != "Z"
}
