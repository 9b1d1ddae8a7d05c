package floor

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"time"

	"loom.dev/loom/test/bench/benchkit"
)

// proc is one of the floor's processes, driven over its stdin and stdout.
type proc struct {
	*benchkit.Piped
	name   string
	events chan event
}

var errTimeout = errors.New("timed out")

// startProc runs bin args with its stderr to stderr (closed when it exits).
func startProc(name, bin string, stderr io.WriteCloser, args ...string) (*proc, error) {
	cmd := exec.Command(bin, args...)
	cmd.Stderr = stderr
	p := &proc{name: name, events: make(chan event, 16)}
	onLine := func(line []byte) {
		var e event
		if err := json.Unmarshal(line, &e); err != nil {
			e = event{Event: evError, Message: fmt.Sprintf("bad event line %q", line)}
		}
		p.events <- e
	}
	var err error
	if p.Piped, err = benchkit.StartPiped(cmd, onLine, func() { close(p.events) }); err != nil {
		return nil, fmt.Errorf("starting the floor's %s: %w", name, err)
	}
	go func() { <-p.Done(); _ = stderr.Close() }()
	return p, nil
}

func (p *proc) send(c command) error { return p.Send(c) }

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
				return e, fmt.Errorf("the floor's %s exited (%v)", p.name, p.State())
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
func (p *proc) stop() { p.Stop(5 * time.Second) }

// logSink is where a process's stderr goes: a file in dir, or this process's stderr.
func logSink(dir, name string) (io.WriteCloser, error) {
	if dir == "" {
		return nopCloser{os.Stderr}, nil
	}
	return os.Create(filepath.Join(dir, name))
}

type nopCloser struct{ io.Writer }

func (nopCloser) Close() error { return nil }
