package e2e

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/util/wait"
)

// sessionProcesses lists the live processes of a session; every process the local cluster
// starts stays in the session of the command that started it.
func sessionProcesses(t *testing.T, sid int) []int {
	t.Helper()
	entries, err := os.ReadDir("/proc")
	if err != nil {
		t.Fatal(err)
	}
	var pids []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			continue
		}
		i := strings.LastIndexByte(string(stat), ')')
		// After the name: state ppid pgrp session ...
		fields := strings.Fields(string(stat[i+1:]))
		if len(fields) < 4 || fields[0] == "Z" {
			continue
		}
		if s, _ := strconv.Atoi(fields[3]); s == sid {
			pids = append(pids, pid)
		}
	}
	return pids
}

func assertSessionEmpty(t *testing.T, sid int) {
	t.Helper()
	err := wait.PollUntilContextTimeout(t.Context(), 100*time.Millisecond, 20*time.Second, true, func(context.Context) (bool, error) {
		return len(sessionProcesses(t, sid)) == 0, nil
	})
	if err != nil {
		t.Fatalf("processes left behind in session %d: %v", sid, sessionProcesses(t, sid))
	}
}
