package devcluster

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"syscall"
)

// realNodeLockFile makes the real node one per machine: it owns a fixed bridge, the firewall
// and kernel settings. The cluster's reaper inherits the lock, so the next real node waits
// until the host has been put back.
const realNodeLockFile = "/run/loom-real-node.lock"

// lockRealNode takes the machine's real-node lock or says who holds it.
func lockRealNode(clusterDir string) (*os.File, error) {
	f, err := os.OpenFile(realNodeLockFile, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("opening %s: %w", realNodeLockFile, err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		owner, _ := os.ReadFile(realNodeLockFile)
		_ = f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("a real node is already running on this machine (%s); there can be one per machine: stop it with `loom dev cluster down`, or leave out --real-node",
				strings.TrimSpace(string(owner)))
		}
		return nil, fmt.Errorf("locking %s: %w", realNodeLockFile, err)
	}
	if err := f.Truncate(0); err != nil {
		return nil, errors.Join(err, f.Close())
	}
	if _, err := fmt.Fprintf(f, "pid %d, cluster folder %s\n", os.Getpid(), clusterDir); err != nil {
		return nil, errors.Join(err, f.Close())
	}
	return f, nil
}
