package benchkit

import (
	"os"
	"testing"
)

func TestReadProcStatOfSelf(t *testing.T) {
	st, err := ReadProcStat(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if st.PPID != os.Getppid() || st.Comm == "" {
		t.Errorf("ReadProcStat(self) = %+v, want ppid %d and a command name", st, os.Getppid())
	}
}

func TestParseProcStatCommandWithParens(t *testing.T) {
	line := "42 (a (b) c) S 7 42 42 0 -1 4194560 1 0 0 0 250 150 0 0 20 0 1 0 1 1 1"
	st, err := parseProcStat(42, line)
	if err != nil {
		t.Fatal(err)
	}
	if st.Comm != "a (b) c" || st.PPID != 7 || st.CPUSeconds != 4 {
		t.Errorf("parseProcStat = %+v, want comm %q, ppid 7, 4 CPU seconds", st, "a (b) c")
	}
	if _, err := parseProcStat(42, "42 (x) S 7"); err == nil {
		t.Error("a short stat line was accepted")
	}
}
