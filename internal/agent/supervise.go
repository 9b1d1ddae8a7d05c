package agent

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"syscall"
	"time"

	"github.com/go-logr/logr"
)

// ProxyExitError is Run's error when Envoy exits on its own: the agent
// exits with Envoy's status and the kubelet restarts the container, as
// with Istio's agent.
type ProxyExitError struct {
	Code int
	Err  error
}

func (e *ProxyExitError) Error() string {
	return fmt.Sprintf("Envoy exited with status %d: %v", e.Code, e.Err)
}

func (e *ProxyExitError) Unwrap() error { return e.Err }

// stopWait bounds how long Envoy may take to exit after SIGTERM before it
// is killed.
const stopWait = 10 * time.Second

// envoyProcess is the supervised Envoy.
type envoyProcess struct {
	cmd  *exec.Cmd
	done chan struct{} // closed when it exited; err is then set
	err  error
	log  logr.Logger
}

// envoyArgs are Envoy's command line, as Istio's agent starts it.
func envoyArgs(o *Options) []string {
	ipVersion := "v4"
	if allIPv6(o.Bootstrap.InstanceIPs) {
		ipVersion = "v6"
	}
	e := &o.Envoy
	drain := e.DrainDuration
	if e.EnvoyDrainDuration > 0 {
		drain = e.EnvoyDrainDuration
	}
	args := []string{
		"-c", e.BootstrapPath,
		"--drain-time-s", strconv.Itoa(int(drain.Round(time.Second) / time.Second)),
		"--drain-strategy", "immediate",
		"--parent-shutdown-time-s", strconv.Itoa(int(e.ParentShutdownDuration.Round(time.Second) / time.Second)),
		"--local-address-ip-version", ipVersion,
		"--file-flush-interval-msec", "1000",
		"--disable-hot-restart",
		"--allow-unknown-static-fields",
	}
	if e.LogLevel != "" {
		args = append(args, "--log-level", e.LogLevel)
	}
	if e.ComponentLogLevel != "" {
		args = append(args, "--component-log-level", e.ComponentLogLevel)
	}
	if e.Concurrency > 0 {
		args = append(args, "--concurrency", strconv.Itoa(e.Concurrency))
	}
	return args
}

// startEnvoy starts binary with args; its output is the agent's.
func startEnvoy(binary string, args []string, log logr.Logger) (*envoyProcess, error) {
	cmd := exec.Command(binary, args...)
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	// Envoy must not outlive a crashed agent: nothing would serve its xDS.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("--proxy-binary %s: %w", binary, err)
	}
	e := &envoyProcess{cmd: cmd, done: make(chan struct{}), log: log}
	log.Info("Envoy started", "pid", cmd.Process.Pid, "args", args)
	go func() {
		e.err = cmd.Wait()
		close(e.done)
	}()
	return e, nil
}

func (e *envoyProcess) running() bool {
	select {
	case <-e.done:
		return false
	default:
		return true
	}
}

// exitError is Envoy's exit as Run's error: nil for status 0 after the
// agent stopped it, else a ProxyExitError.
func (e *envoyProcess) exitError(stopped bool) error {
	code := e.cmd.ProcessState.ExitCode()
	if ws, ok := e.cmd.ProcessState.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		if stopped && ws.Signal() == syscall.SIGTERM {
			return nil
		}
		code = 128 + int(ws.Signal())
	}
	if stopped && code == 0 {
		return nil
	}
	return &ProxyExitError{Code: code, Err: e.err}
}

// drain stops Envoy as Istio's agent does on SIGTERM: Envoy's admin drains
// the inbound listeners gracefully, the agent waits the drain duration (or
// until Envoy exits), then sends Envoy SIGTERM and waits for it to exit.
func (e *envoyProcess) drain(adminPort int, duration time.Duration) error {
	url := fmt.Sprintf("http://127.0.0.1:%d/drain_listeners?graceful&inboundonly", adminPort)
	if err := postAdmin(url); err != nil {
		e.log.Error(err, "Envoy did not start draining; stopping it after the drain duration anyway")
	} else {
		e.log.Info("Envoy draining", "duration", duration.String())
	}
	timer := time.NewTimer(duration)
	defer timer.Stop()
	select {
	case <-e.done:
		return e.exitError(false)
	case <-timer.C:
	}
	if err := e.cmd.Process.Signal(syscall.SIGTERM); err != nil && !errors.Is(err, os.ErrProcessDone) {
		e.log.Error(err, "signalling Envoy")
	}
	kill := time.NewTimer(stopWait)
	defer kill.Stop()
	select {
	case <-e.done:
	case <-kill.C:
		e.log.Info("Envoy did not exit after SIGTERM; killing it", "waited", stopWait.String())
		_ = e.cmd.Process.Kill()
		<-e.done
	}
	return e.exitError(true)
}

func postAdmin(url string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("POST %s: %w", url, err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("POST %s: status %d", url, resp.StatusCode)
	}
	return nil
}
