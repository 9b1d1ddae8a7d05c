package benchkit

import (
	"fmt"
	"os"
	"strconv"
	"strings"
)

// ClockTicks is USER_HZ, 100 on every Linux this runs on.
const ClockTicks = 100

// ProcStat is what the benchmarks read from /proc/<pid>/stat.
type ProcStat struct {
	Comm       string
	PPID       int
	CPUSeconds float64 // user + system, all threads
}

// ReadProcStat reads /proc/<pid>/stat.
func ReadProcStat(pid int) (ProcStat, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return ProcStat{}, err
	}
	return parseProcStat(pid, string(b))
}

func parseProcStat(pid int, s string) (ProcStat, error) {
	open, closing := strings.IndexByte(s, '('), strings.LastIndexByte(s, ')')
	if open < 0 || closing < open {
		return ProcStat{}, fmt.Errorf("/proc/%d/stat: no command name", pid)
	}
	f := strings.Fields(s[closing+1:])
	if len(f) < 13 {
		return ProcStat{}, fmt.Errorf("/proc/%d/stat: %d fields after the command name, want at least 13", pid, len(f))
	}
	ppid, _ := strconv.Atoi(f[1])
	ut, _ := strconv.ParseFloat(f[11], 64)
	st, _ := strconv.ParseFloat(f[12], 64)
	return ProcStat{Comm: s[open+1 : closing], PPID: ppid, CPUSeconds: (ut + st) / ClockTicks}, nil
}
