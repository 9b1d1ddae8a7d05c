package devcluster

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
)

// hostChanges journals every change the real node makes to the host. After each change it
// rewrites a shell script that undoes them all, newest first: Stop runs it, and so does the
// cluster's reaper when the owning process dies without stopping (a shell script, because
// the reaper must not depend on the process that died).
type hostChanges struct {
	mu     sync.Mutex
	script string
	steps  []undoStep
}

type undoStep struct{ what, shell string }

// undoScriptHeader defines fail, which reports a step that did not undo cleanly and makes the
// script exit non-zero without skipping the later steps.
const undoScriptHeader = `#!/bin/sh
# Undoes what Loom's real node changed on this host, newest change first.
# Run by Stop and by the cluster's reaper; safe to run twice.
status=0
fail() { echo "undo: $*" >&2; status=1; }
`

func newHostChanges(script string) *hostChanges { return &hostChanges{script: script} }

// record adds a step that undoes a change about to be made. Record before changing, so that
// a change interrupted half way is still undone.
func (h *hostChanges) record(what, shell string) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.steps = append(h.steps, undoStep{what: what, shell: shell})
	return writeAtomic(h.script, []byte(renderUndoScript(h.steps)), 0o700)
}

func renderUndoScript(steps []undoStep) string {
	var b strings.Builder
	b.WriteString(undoScriptHeader)
	for i := len(steps) - 1; i >= 0; i-- {
		fmt.Fprintf(&b, "\n# %s\n{\n%s\n} || fail %s\n", steps[i].what, strings.TrimSpace(steps[i].shell), shellQuote(steps[i].what))
	}
	b.WriteString("\nexit $status\n")
	return b.String()
}

// revert runs the undo script; its output names each step that failed.
func (h *hostChanges) revert() error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.steps) == 0 {
		return nil
	}
	out, err := exec.Command("/bin/sh", h.script).CombinedOutput()
	if err != nil {
		return fmt.Errorf("undoing the real node's host changes (%s): %w: %s", h.script, err, bytes.TrimSpace(out))
	}
	h.steps = nil
	return os.Remove(h.script)
}

// setSysctl sets a kernel parameter and records its previous value.
func (h *hostChanges) setSysctl(key, value string) error {
	path := sysctlPath(key)
	old, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("reading sysctl %s: %w", key, err)
	}
	if strings.TrimSpace(string(old)) == value {
		return nil
	}
	if err := h.record("sysctl "+key, fmt.Sprintf("echo %s > %s", shellQuote(strings.TrimSpace(string(old))), path)); err != nil {
		return err
	}
	if err := os.WriteFile(path, []byte(value), 0o644); err != nil {
		return fmt.Errorf("setting sysctl %s=%s: %w", key, value, err)
	}
	return nil
}

// keepSysctl records the current value of a kernel parameter that a node component may
// change on its own, so that undo puts it back.
func (h *hostChanges) keepSysctl(key string) error {
	path := sysctlPath(key)
	old, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("reading sysctl %s: %w", key, err)
	}
	return h.record("sysctl "+key, fmt.Sprintf("echo %s > %s", shellQuote(strings.TrimSpace(string(old))), path))
}

func sysctlPath(key string) string {
	return filepath.Join("/proc/sys", strings.ReplaceAll(key, ".", "/"))
}

// ensureDir creates a fixed host directory a node component insists on, and removes it on
// undo only if it did not exist before.
func (h *hostChanges) ensureDir(path string) error {
	if _, err := os.Stat(path); err == nil {
		return nil
	}
	if err := h.record("directory "+path, "rm -rf --one-file-system "+shellQuote(path)); err != nil {
		return err
	}
	return os.MkdirAll(path, 0o755)
}

// ensureSharedDir creates a host directory others may also use (as /var/run/netns is used by
// `ip netns`), and removes it on undo only if it did not exist before and is empty by then.
func (h *hostChanges) ensureSharedDir(path string) error {
	if _, err := os.Stat(path); err == nil {
		return nil
	}
	if err := h.record("directory "+path, "rmdir "+shellQuote(path)+" 2>/dev/null || true"); err != nil {
		return err
	}
	return os.MkdirAll(path, 0o755)
}

func writeAtomic(path string, data []byte, mode os.FileMode) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, mode); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// shellQuote quotes s for /bin/sh.
func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
