package devcluster

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// holdLock takes path's lock through a file of its own (a lock of another holder) and
// records owner in it, as lockRealNode does.
func holdLock(t *testing.T, path, owner string) *os.File {
	t.Helper()
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = f.Close() })
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(owner), 0o644); err != nil {
		t.Fatal(err)
	}
	return f
}

// endedPid returns the pid of a process that has ended.
func endedPid(t *testing.T) int {
	t.Helper()
	cmd := exec.Command("true")
	if err := cmd.Run(); err != nil {
		t.Fatal(err)
	}
	return cmd.Process.Pid
}

func TestRealNodeLockRefusesARunningOwnerAtOnce(t *testing.T) {
	path := filepath.Join(t.TempDir(), "lock")
	holdLock(t, path, fmt.Sprintf("pid %d, cluster folder /tmp/other\n", os.Getpid()))
	_, err := lockRealNode(t.Context(), path, "/tmp/mine", time.Hour)
	if err == nil || !strings.Contains(err.Error(), "already running") || !strings.Contains(err.Error(), "/tmp/other") {
		t.Fatalf("got %v, want a refusal naming the running node", err)
	}
}

func TestRealNodeLockWaitsForTheReaperOfAnEndedOwner(t *testing.T) {
	path := filepath.Join(t.TempDir(), "lock")
	held := holdLock(t, path, fmt.Sprintf("pid %d, cluster folder /tmp/other\n", endedPid(t)))
	released := make(chan struct{})
	go func() {
		time.Sleep(300 * time.Millisecond)
		close(released)
		_ = held.Close()
	}()
	f, err := lockRealNode(t.Context(), path, "/tmp/mine", time.Hour)
	if err != nil {
		t.Fatalf("the lock of an ended owner was not waited for: %v", err)
	}
	defer func() { _ = f.Close() }()
	select {
	case <-released:
	default:
		t.Fatal("the lock was taken while its holder still held it")
	}
	if record, _ := os.ReadFile(path); !strings.Contains(string(record), fmt.Sprintf("pid %d, cluster folder /tmp/mine", os.Getpid())) {
		t.Errorf("the lock records %q, want this process and its cluster folder", record)
	}
}

func TestRealNodeLockGivesUpOnAReaperThatNeverEnds(t *testing.T) {
	path := filepath.Join(t.TempDir(), "lock")
	holdLock(t, path, fmt.Sprintf("pid %d, cluster folder /tmp/other\n", endedPid(t)))
	_, err := lockRealNode(t.Context(), path, "/tmp/mine", 200*time.Millisecond)
	if err == nil || !strings.Contains(err.Error(), "has not put the host back") {
		t.Fatalf("got %v, want the reaper named", err)
	}
}

func TestLockOwnerRuns(t *testing.T) {
	for record, want := range map[string]bool{
		fmt.Sprintf("pid %d, cluster folder /tmp/x\n", os.Getpid()): true,
		fmt.Sprintf("pid %d, cluster folder /tmp/x\n", endedPid(t)): false,
		"":                             true, // being rewritten by a new owner
		"pid banana, cluster folder /": true,
	} {
		if got := lockOwnerRuns(record); got != want {
			t.Errorf("lockOwnerRuns(%q) = %v, want %v", record, got, want)
		}
	}
}

// TestStoppedReaperReleasesTheLock: the reaper's shell spends its time in `sleep`, which
// inherits the lock; stopping the reaper must release the lock at once, or the next real
// node started right after Stop is refused.
func TestStoppedReaperReleasesTheLock(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "lock")
	lock := holdLock(t, path, "pid 1, cluster folder /\n")
	r, err := startReaper(dir, lock)
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(200 * time.Millisecond) // into the reaper's first sleep
	r.stop()
	_ = lock.Close()
	again, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = again.Close() }()
	if err := syscall.Flock(int(again.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		t.Fatalf("the lock is still held after the reaper stopped: %v", err)
	}
}

func TestLockOwnerThatIsAZombieHasEnded(t *testing.T) {
	cmd := exec.Command("true")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cmd.Wait() }()
	record := fmt.Sprintf("pid %d, cluster folder /tmp/x\n", cmd.Process.Pid)
	deadline := time.Now().Add(time.Minute)
	for lockOwnerRuns(record) {
		if time.Now().After(deadline) {
			t.Fatal("an ended, unreaped owner still counts as running")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestRealNodeLockWaitEndsWithItsContext(t *testing.T) {
	path := filepath.Join(t.TempDir(), "lock")
	holdLock(t, path, fmt.Sprintf("pid %d, cluster folder /tmp/other\n", endedPid(t)))
	ctx, cancel := context.WithTimeout(t.Context(), 200*time.Millisecond)
	defer cancel()
	_, err := lockRealNode(ctx, path, "/tmp/mine", time.Hour)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("got %v, want the wait ended by its context", err)
	}
}
