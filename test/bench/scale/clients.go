package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"syscall"
	"time"

	"loom.dev/loom/test/bench/benchproto"
)

// clientsProc is the running test/bench/adsclients process.
type clientsProc struct {
	cmd     *exec.Cmd
	stdin   io.WriteCloser
	events  chan benchproto.Event
	logPath string
	done    chan struct{}
}

func startClients(bin, logPath string, args []string) (*clientsProc, error) {
	logFile, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o644)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, args...)
	cmd.Stderr = logFile
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	stdin, err := cmd.StdinPipe()
	if err != nil {
		_ = logFile.Close()
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		_ = logFile.Close()
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		_ = logFile.Close()
		return nil, err
	}
	p := &clientsProc{cmd: cmd, stdin: stdin, events: make(chan benchproto.Event, 64), logPath: logPath, done: make(chan struct{})}
	go func() {
		defer close(p.events)
		sc := bufio.NewScanner(stdout)
		sc.Buffer(make([]byte, 1<<20), 64<<20)
		for sc.Scan() {
			var e benchproto.Event
			if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
				fmt.Fprintf(logFile, "driver: bad event line: %q\n", sc.Text())
				continue
			}
			p.events <- e
		}
	}()
	go func() { _ = cmd.Wait(); _ = logFile.Close(); close(p.done) }()
	return p, nil
}

func (p *clientsProc) send(c benchproto.Command) error {
	b, err := json.Marshal(c)
	if err != nil {
		return err
	}
	_, err = p.stdin.Write(append(b, '\n'))
	return err
}

// wait returns the next event of the given kind (and id, if set). Error
// events fail it; other events are skipped.
func (p *clientsProc) wait(ctx context.Context, kind, id string, timeout time.Duration) (benchproto.Event, error) {
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	for {
		select {
		case e, ok := <-p.events:
			if !ok {
				return e, fmt.Errorf("the clients process exited (log %s):\n%s", p.logPath, tail(p.logPath, 20))
			}
			if e.Event == benchproto.EventError {
				return e, fmt.Errorf("clients: %s (%s)", e.Message, e.ID)
			}
			if e.Event == kind && (id == "" || e.ID == id) {
				return e, nil
			}
		case <-timer.C:
			return benchproto.Event{}, errTimeout
		case <-ctx.Done():
			return benchproto.Event{}, ctx.Err()
		}
	}
}

var errTimeout = fmt.Errorf("timed out")

// stop closes stdin (the process exits) and kills it if it lingers.
func (p *clientsProc) stop() {
	_ = p.stdin.Close()
	select {
	case <-p.done:
	case <-time.After(5 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.done
	}
}
