package benchkit

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"time"
)

// Process is a control-plane process under test: Cmd, its output in LogPath,
// ready once ReadyURL answers 200.
type Process struct {
	Name     string
	Cmd      *exec.Cmd
	LogPath  string
	ReadyURL string
	// Started and Ready are when Start started Cmd and when ReadyURL first
	// answered 200.
	Started, Ready time.Time
	exited         chan struct{}
}

// Start runs the process with its output in LogPath (killed if this process
// dies) and waits up to timeout until ReadyURL answers 200. If it does not,
// the process is killed.
func (p *Process) Start(ctx context.Context, timeout time.Duration) error {
	logFile, err := os.OpenFile(p.LogPath, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o644)
	if err != nil {
		return err
	}
	defer func() { _ = logFile.Close() }()
	p.Cmd.Stdout, p.Cmd.Stderr = logFile, logFile
	p.Cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	p.Started = time.Now()
	if err := p.Cmd.Start(); err != nil {
		return fmt.Errorf("%s: %w", p.Name, err)
	}
	p.exited = make(chan struct{})
	go func() { _ = p.Cmd.Wait(); close(p.exited) }()
	if err := p.waitReady(ctx, timeout); err != nil {
		p.Stop(0)
		return err
	}
	return nil
}

func (p *Process) waitReady(ctx context.Context, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	hc := &http.Client{Timeout: 2 * time.Second}
	for {
		if resp, err := hc.Get(p.ReadyURL); err == nil {
			_ = resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				p.Ready = time.Now()
				return nil
			}
		}
		select {
		case <-p.exited:
			return fmt.Errorf("%s exited before it was ready (%v); log %s:\n%s", p.Name, p.Cmd.ProcessState, p.LogPath, Tail(p.LogPath, 30))
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s not ready after %s; log %s:\n%s", p.Name, timeout, p.LogPath, Tail(p.LogPath, 30))
		}
	}
}

// Startup is how long the process took to become ready.
func (p *Process) Startup() time.Duration { return p.Ready.Sub(p.Started) }

// PID of the started process.
func (p *Process) PID() int { return p.Cmd.Process.Pid }

// Exited is closed when the started process has exited.
func (p *Process) Exited() <-chan struct{} { return p.exited }

// Alive tells whether the started process still runs.
func (p *Process) Alive() bool {
	select {
	case <-p.exited:
		return false
	default:
		return true
	}
}

// Stop sends SIGTERM, then SIGKILL after grace, and waits for the exit. It
// does nothing if the process was not started.
func (p *Process) Stop(grace time.Duration) {
	if p.Cmd == nil || p.Cmd.Process == nil || p.exited == nil {
		return
	}
	_ = p.Cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.exited:
	case <-time.After(grace):
		_ = p.Cmd.Process.Kill()
		<-p.exited
	}
}

// FreeAddr is a loopback address with a port nobody listens on now.
func FreeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer func() { _ = l.Close() }()
	return l.Addr().String(), nil
}

// FreeAddrs is n addresses from FreeAddr.
func FreeAddrs(n int) ([]string, error) {
	out := make([]string, n)
	for i := range out {
		a, err := FreeAddr()
		if err != nil {
			return nil, err
		}
		out[i] = a
	}
	return out, nil
}

// Tail is the last lines of the file at path, or "" if it cannot be read.
func Tail(path string, lines int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	all := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(all) > lines {
		all = all[len(all)-lines:]
	}
	return strings.Join(all, "\n")
}
