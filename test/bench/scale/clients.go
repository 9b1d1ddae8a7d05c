package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"time"

	"loom.dev/loom/test/bench/benchkit"
	"loom.dev/loom/test/bench/benchproto"
)

// clientsProc is the running test/bench/adsclients process.
type clientsProc struct {
	*benchkit.Piped
	events  chan benchproto.Event
	logPath string
}

func startClients(bin, logPath string, args []string) (*clientsProc, error) {
	logFile, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o644)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, args...)
	cmd.Stderr = logFile
	p := &clientsProc{events: make(chan benchproto.Event, 64), logPath: logPath}
	onLine := func(line []byte) {
		var e benchproto.Event
		if err := json.Unmarshal(line, &e); err != nil {
			fmt.Fprintf(logFile, "driver: bad event line: %q\n", line)
			return
		}
		p.events <- e
	}
	if p.Piped, err = benchkit.StartPiped(cmd, onLine, func() { close(p.events) }); err != nil {
		_ = logFile.Close()
		return nil, err
	}
	go func() { <-p.Done(); _ = logFile.Close() }()
	return p, nil
}

func (p *clientsProc) send(c benchproto.Command) error { return p.Send(c) }

// wait returns the next event of the given kind (and id, if set). Error
// events fail it; other events are skipped.
func (p *clientsProc) wait(ctx context.Context, kind, id string, timeout time.Duration) (benchproto.Event, error) {
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	for {
		select {
		case e, ok := <-p.events:
			if !ok {
				return e, fmt.Errorf("the clients process exited (log %s):\n%s", p.logPath, benchkit.Tail(p.logPath, 20))
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
func (p *clientsProc) stop() { p.Stop(5 * time.Second) }
