package benchkit

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func statusServer(t *testing.T, code int) string {
	t.Helper()
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(code) }))
	t.Cleanup(s.Close)
	return s.URL
}

func TestProcessStartsWhenReadyAndStops(t *testing.T) {
	p := &Process{Name: "sleeper", Cmd: exec.Command("sleep", "30"), LogPath: filepath.Join(t.TempDir(), "log"), ReadyURL: statusServer(t, http.StatusOK)}
	if err := p.Start(context.Background(), 10*time.Second); err != nil {
		t.Fatal(err)
	}
	if !p.Alive() || p.PID() <= 0 || p.Startup() < 0 {
		t.Fatalf("after Start: alive %v, pid %d, startup %s", p.Alive(), p.PID(), p.Startup())
	}
	p.Stop(5 * time.Second)
	if p.Alive() {
		t.Error("alive after Stop")
	}
}

func TestProcessExitingBeforeReadyShowsItsLog(t *testing.T) {
	p := &Process{Name: "quitter", Cmd: exec.Command("sh", "-c", "echo the last words; exit 3"), LogPath: filepath.Join(t.TempDir(), "log"), ReadyURL: statusServer(t, http.StatusServiceUnavailable)}
	err := p.Start(context.Background(), 10*time.Second)
	if err == nil || !strings.Contains(err.Error(), "quitter exited before it was ready") || !strings.Contains(err.Error(), "the last words") {
		t.Fatalf("Start = %v, want an exit error with the log's tail", err)
	}
}

func TestProcessNotReadyInTimeIsKilled(t *testing.T) {
	p := &Process{Name: "slow", Cmd: exec.Command("sleep", "30"), LogPath: filepath.Join(t.TempDir(), "log"), ReadyURL: statusServer(t, http.StatusServiceUnavailable)}
	err := p.Start(context.Background(), 200*time.Millisecond)
	if err == nil || !strings.Contains(err.Error(), "slow not ready after 200ms") {
		t.Fatalf("Start = %v, want a not-ready error", err)
	}
	if p.Alive() {
		t.Error("a process that never got ready is still running")
	}
}

func TestFreeAddrsAreDistinct(t *testing.T) {
	a, err := FreeAddrs(3)
	if err != nil {
		t.Fatal(err)
	}
	if len(a) != 3 || a[0] == a[1] || a[1] == a[2] || a[0] == a[2] || !strings.HasPrefix(a[0], "127.0.0.1:") {
		t.Errorf("FreeAddrs(3) = %q, want 3 distinct loopback addresses", a)
	}
}

func TestTailKeepsTheLastLines(t *testing.T) {
	path := filepath.Join(t.TempDir(), "log")
	if err := os.WriteFile(path, []byte("1\n2\n3\n4\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if got := Tail(path, 2); got != "3\n4" {
		t.Errorf("Tail(2) = %q, want %q", got, "3\n4")
	}
	if got := Tail(filepath.Join(t.TempDir(), "missing"), 2); got != "" {
		t.Errorf("Tail of a missing file = %q, want empty", got)
	}
}
