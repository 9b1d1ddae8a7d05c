package main

import (
	"fmt"
	"os"
	"strconv"
	"strings"

	"loom.dev/loom/test/bench/benchkit"
)

// controlPlane is one control-plane process under test and its xDS address.
type controlPlane struct {
	benchkit.Process
	xdsAddr string
	// metricsURL serves loom's metrics ("" for other control planes): status writes are read there.
	metricsURL string
}

// procUsage is a process's CPU time and memory, from /proc.
type procUsage struct {
	cpuSeconds float64 // user + system, all threads
	hwmBytes   int64   // peak resident set (VmHWM)
	rssBytes   int64   // current resident set (VmRSS)
}

func readUsage(pid int) (procUsage, error) {
	var u procUsage
	stat, err := benchkit.ReadProcStat(pid)
	if err != nil {
		return u, err
	}
	u.cpuSeconds = stat.CPUSeconds
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return u, err
	}
	for _, line := range strings.Split(string(status), "\n") {
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		var dst *int64
		switch k {
		case "VmHWM":
			dst = &u.hwmBytes
		case "VmRSS":
			dst = &u.rssBytes
		default:
			continue
		}
		fs := strings.Fields(v) // "123456 kB"
		if len(fs) >= 1 {
			n, _ := strconv.ParseInt(fs[0], 10, 64)
			*dst = n * 1024
		}
	}
	return u, nil
}

// systemBusySeconds is the CPU time every process on the machine has used
// since boot (/proc/stat), to tell how much of the machine others took
// during a run.
func systemBusySeconds() float64 {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0
	}
	line, _, _ := strings.Cut(string(b), "\n")
	f := strings.Fields(line)
	if len(f) < 9 || f[0] != "cpu" {
		return 0
	}
	var busy float64
	for _, i := range []int{1, 2, 3, 6, 7, 8} { // user nice system irq softirq steal
		v, _ := strconv.ParseFloat(f[i], 64)
		busy += v
	}
	return busy / benchkit.ClockTicks
}
