package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// clockTicks is USER_HZ, 100 on every Linux this runs on.
const clockTicks = 100

// procStat is what the benchmark reads from /proc/<pid>/stat.
type procStat struct {
	comm       string
	ppid       int
	cpuSeconds float64 // user + system, all threads
}

func readProcStat(pid int) (procStat, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return procStat{}, err
	}
	s := string(b)
	open, closing := strings.IndexByte(s, '('), strings.LastIndexByte(s, ')')
	if open < 0 || closing < open {
		return procStat{}, fmt.Errorf("/proc/%d/stat: no command name", pid)
	}
	f := strings.Fields(s[closing+1:])
	if len(f) < 13 {
		return procStat{}, fmt.Errorf("/proc/%d/stat: %d fields after the command name, want at least 13", pid, len(f))
	}
	ppid, _ := strconv.Atoi(f[1])
	ut, _ := strconv.ParseFloat(f[11], 64)
	st, _ := strconv.ParseFloat(f[12], 64)
	return procStat{comm: s[open+1 : closing], ppid: ppid, cpuSeconds: (ut + st) / clockTicks}, nil
}

// cpuSeconds of pid; 0 if it is gone.
func cpuSeconds(pid int) float64 {
	st, err := readProcStat(pid)
	if err != nil {
		return 0
	}
	return st.cpuSeconds
}

// childPIDs are this process's children named comm (the cluster's kube-apiserver and
// etcd, which devcluster starts as children).
func childPIDs(comm string) []int {
	paths, _ := filepath.Glob("/proc/[0-9]*/stat")
	self := os.Getpid()
	var out []int
	for _, p := range paths {
		pid, err := strconv.Atoi(filepath.Base(filepath.Dir(p)))
		if err != nil {
			continue
		}
		if st, err := readProcStat(pid); err == nil && st.ppid == self && st.comm == comm {
			out = append(out, pid)
		}
	}
	return out
}

// cpuMeter samples the CPU seconds of the processes that share the work of a CA request.
type cpuMeter struct {
	plane, apiserver, etcd int
}

type cpuSample struct{ plane, apiserver, self float64 }

func (m cpuMeter) sample() cpuSample {
	return cpuSample{
		plane:     cpuSeconds(m.plane),
		apiserver: cpuSeconds(m.apiserver) + cpuSeconds(m.etcd),
		self:      cpuSeconds(os.Getpid()),
	}
}

func (s cpuSample) sub(o cpuSample) cpuSample {
	return cpuSample{plane: s.plane - o.plane, apiserver: s.apiserver - o.apiserver, self: s.self - o.self}
}
