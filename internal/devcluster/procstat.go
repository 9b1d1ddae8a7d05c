package devcluster

import (
	"os"
	"strconv"
	"strings"
)

// procStat reads a process's state ("R", "S", "Z"...) and process group from /proc.
func procStat(pid int) (state string, pgrp int, ok bool) {
	stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return "", 0, false
	}
	// The command name comes in parentheses and may itself hold them.
	i := strings.LastIndexByte(string(stat), ')')
	if i < 0 {
		return "", 0, false
	}
	fields := strings.Fields(string(stat[i+1:])) // state, ppid, pgrp, ...
	if len(fields) < 3 {
		return "", 0, false
	}
	pgrp, err = strconv.Atoi(fields[2])
	return fields[0], pgrp, err == nil
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
		if state, pgrp, ok := procStat(pid); ok && pgrp == pgid && state != "Z" {
			return true
		}
	}
	return false
}
