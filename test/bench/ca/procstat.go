package main

import (
	"os"
	"path/filepath"
	"strconv"

	"loom.dev/loom/test/bench/benchkit"
)

// cpuSeconds of pid; 0 if it is gone.
func cpuSeconds(pid int) float64 {
	st, err := benchkit.ReadProcStat(pid)
	if err != nil {
		return 0
	}
	return st.CPUSeconds
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
		if st, err := benchkit.ReadProcStat(pid); err == nil && st.PPID == self && st.Comm == comm {
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
