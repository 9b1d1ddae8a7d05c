package devcluster

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// process is a component the cluster started itself, in its own process group.
type process struct {
	name string
	cmd  *exec.Cmd
	done chan struct{}
}

func startProcess(name, binary string, args []string, logDir string) (*process, error) {
	logFile, err := os.Create(filepath.Join(logDir, name+".log"))
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(binary, args...)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return nil, errors.Join(fmt.Errorf("starting %s: %w", name, err), logFile.Close())
	}
	p := &process{name: name, cmd: cmd, done: make(chan struct{})}
	go func() {
		_ = cmd.Wait() // its exit is reported through exited()
		_ = logFile.Close()
		close(p.done)
	}()
	return p, nil
}

func (p *process) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// stop asks the process group to terminate and kills it after the grace period.
func (p *process) stop(grace time.Duration) {
	pgid := p.cmd.Process.Pid
	_ = syscall.Kill(-pgid, syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(grace):
		_ = syscall.Kill(-pgid, syscall.SIGKILL)
		<-p.done
	}
}

// childrenRunning lists this process's children whose executable lies in dir.
// envtest does not expose the pids of the etcd and kube-apiserver it starts.
func childrenRunning(dir string) ([]int, error) {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil, err
	}
	self := os.Getpid()
	var pids []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if ppid, err := parentPID(pid); err != nil || ppid != self {
			continue
		}
		exe, err := os.Readlink(fmt.Sprintf("/proc/%d/exe", pid))
		if err == nil && strings.HasPrefix(exe, dir+string(os.PathSeparator)) {
			pids = append(pids, pid)
		}
	}
	return pids, nil
}

// procStatus is what /proc/<pid>/stat says of a process that the package reads.
type procStatus struct {
	state      string // "R", "S", "Z"...
	ppid, pgrp int
}

func readProcStat(pid int) (procStatus, error) {
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return procStatus{}, err
	}
	// The command name in parentheses may hold spaces: fields start after the last ')'.
	i := strings.LastIndexByte(string(stat), ')')
	if i < 0 {
		return procStatus{}, errors.New("malformed stat")
	}
	fields := strings.Fields(string(stat[i+1:])) // state, ppid, pgrp, ...
	if len(fields) < 3 {
		return procStatus{}, errors.New("malformed stat")
	}
	ppid, err := strconv.Atoi(fields[1])
	if err != nil {
		return procStatus{}, err
	}
	pgrp, err := strconv.Atoi(fields[2])
	if err != nil {
		return procStatus{}, err
	}
	return procStatus{state: fields[0], ppid: ppid, pgrp: pgrp}, nil
}

func parentPID(pid int) (int, error) {
	s, err := readProcStat(pid)
	return s.ppid, err
}

// processAlive is true for a running process; a zombie has already exited.
func processAlive(pid int) bool {
	s, err := readProcStat(pid)
	return err == nil && s.state != "Z"
}

// groupRunning reports whether a process of the group has not exited yet (a zombie has:
// its files are closed).
func groupRunning(pgid int) bool {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return false
	}
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if s, err := readProcStat(pid); err == nil && s.pgrp == pgid && s.state != "Z" {
			return true
		}
	}
	return false
}

// tailFile returns the last lines of a log file, for errors that point at it.
func tailFile(path string, lines int) string {
	data, err := os.ReadFile(path)
	if err != nil {
		return err.Error()
	}
	all := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
	if len(all) > lines {
		all = all[len(all)-lines:]
	}
	return strings.Join(all, "\n")
}
