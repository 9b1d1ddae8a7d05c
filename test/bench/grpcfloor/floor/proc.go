package floor

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"time"
)

// proc is one of the floor's processes, driven over its stdin and stdout.
type proc struct {
	name   string
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	events chan event
	done   chan struct{}
}

var errTimeout = errors.New("timed out")

// startProc runs bin args with its stderr to stderr (closed when it exits).
func startProc(name, bin string, stderr io.WriteCloser, args ...string) (*proc, error) {
	cmd := exec.Command(bin, args...)
	cmd.Stderr = stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting the floor's %s: %w", name, err)
	}
	p := &proc{name: name, cmd: cmd, stdin: stdin, events: make(chan event, 16), done: make(chan struct{})}
	go func() {
		defer close(p.events)
		sc := bufio.NewScanner(stdout)
		sc.Buffer(make([]byte, 1<<20), 64<<20)
		for sc.Scan() {
			var e event
			if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
				e = event{Event: evError, Message: fmt.Sprintf("bad event line %q", sc.Text())}
			}
			p.events <- e
		}
	}()
	go func() { _ = cmd.Wait(); _ = stderr.Close(); close(p.done) }()
	return p, nil
}

func (p *proc) send(c command) error {
	b, err := json.Marshal(c)
	if err != nil {
		return err
	}
	_, err = p.stdin.Write(append(b, '\n'))
	return err
}

// wait returns the next event of the given kind; an error event, the
// process's exit, the timeout or ctx fails it.
func (p *proc) wait(ctx context.Context, kind string, timeout time.Duration) (event, error) {
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	for {
		select {
		case e, ok := <-p.events:
			switch {
			case !ok:
				return e, fmt.Errorf("the floor's %s exited (%v)", p.name, p.cmd.ProcessState)
			case e.Event == evError:
				return e, fmt.Errorf("the floor's %s: %s", p.name, e.Message)
			case e.Event == kind:
				return e, nil
			}
		case <-timer.C:
			return event{}, fmt.Errorf("the floor's %s: no %q within %s: %w", p.name, kind, timeout, errTimeout)
		case <-ctx.Done():
			return event{}, ctx.Err()
		}
	}
}

// cpu asks the server for its CPU seconds.
func (p *proc) cpu(ctx context.Context) (float64, error) {
	if err := p.send(command{Cmd: cmdCPU}); err != nil {
		return 0, err
	}
	e, err := p.wait(ctx, evCPU, 10*time.Second)
	return e.CPUSeconds, err
}

// stop closes stdin (the process returns) and kills it if it lingers.
func (p *proc) stop() {
	_ = p.stdin.Close()
	select {
	case <-p.done:
	case <-time.After(5 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.done
	}
}

// logSink is where a process's stderr goes: a file in dir, or this process's stderr.
func logSink(dir, name string) (io.WriteCloser, error) {
	if dir == "" {
		return nopCloser{os.Stderr}, nil
	}
	return os.Create(filepath.Join(dir, name))
}

type nopCloser struct{ io.Writer }

func (nopCloser) Close() error { return nil }
