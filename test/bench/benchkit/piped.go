package benchkit

import (
	"bufio"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"syscall"
	"time"
)

// Piped is a helper process driven over its stdin and stdout (adsclients,
// grpcfloor's server and clients): commands go in as JSON lines, its stdout
// is read line by line, and it exits when its stdin closes.
type Piped struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser
	done  chan struct{}
}

// StartPiped starts cmd (killed if this process dies) and, from one
// goroutine, calls onLine with each line of its stdout (the slice is reused
// after onLine returns), then stdoutEnded, if not nil, once stdout ends.
// Lines may be as long as 64 MiB.
func StartPiped(cmd *exec.Cmd, onLine func(line []byte), stdoutEnded func()) (*Piped, error) {
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
		return nil, err
	}
	p := &Piped{cmd: cmd, stdin: stdin, done: make(chan struct{})}
	go func() {
		if stdoutEnded != nil {
			defer stdoutEnded()
		}
		sc := bufio.NewScanner(stdout)
		sc.Buffer(make([]byte, 1<<20), 64<<20)
		for sc.Scan() {
			onLine(sc.Bytes())
		}
	}()
	go func() { _ = cmd.Wait(); close(p.done) }()
	return p, nil
}

// Send writes v to the process's stdin as one JSON line.
func (p *Piped) Send(v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	_, err = p.stdin.Write(append(b, '\n'))
	return err
}

// Done is closed once the process has exited.
func (p *Piped) Done() <-chan struct{} { return p.done }

// State is how the process exited; nil before it has.
func (p *Piped) State() *os.ProcessState { return p.cmd.ProcessState }

// Stop closes the process's stdin, on which it exits, and kills it if it is
// still there after grace.
func (p *Piped) Stop(grace time.Duration) {
	_ = p.stdin.Close()
	select {
	case <-p.done:
	case <-time.After(grace):
		_ = p.cmd.Process.Kill()
		<-p.done
	}
}
