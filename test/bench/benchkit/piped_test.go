package benchkit

import (
	"os/exec"
	"strings"
	"testing"
	"time"
)

// cat echoes every command back, as a line each, and exits when its stdin
// closes. The lines are awaited before Stop: as with exec.Cmd's pipes, what
// the process writes as it exits may be lost.
func TestPipedSendsLinesAndReadsThem(t *testing.T) {
	lines := make(chan string, 2)
	ended := make(chan struct{})
	p, err := StartPiped(exec.Command("cat"), func(l []byte) { lines <- string(l) }, func() { close(ended) })
	if err != nil {
		t.Fatal(err)
	}
	defer p.Stop(5 * time.Second)
	for _, v := range []any{map[string]int{"n": 1}, "two"} {
		if err := p.Send(v); err != nil {
			t.Fatal(err)
		}
	}
	var got []string
	for len(got) < 2 {
		select {
		case l := <-lines:
			got = append(got, l)
		case <-time.After(10 * time.Second):
			t.Fatalf("lines read back so far %q, want 2", got)
		}
	}
	if strings.Join(got, "|") != `{"n":1}|"two"` {
		t.Errorf("lines read back %q, want %q", got, `{"n":1}|"two"`)
	}
	p.Stop(5 * time.Second)
	<-ended
	if p.State() == nil || !p.State().Success() {
		t.Errorf("cat did not exit cleanly on its stdin's close: %v", p.State())
	}
}

func TestPipedStopKillsAProcessThatIgnoresStdin(t *testing.T) {
	p, err := StartPiped(exec.Command("sleep", "30"), func([]byte) {}, nil)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	p.Stop(100 * time.Millisecond)
	if time.Since(start) > 5*time.Second || p.State() == nil || p.State().Success() {
		t.Errorf("sleep not killed after the grace: state %v after %s", p.State(), time.Since(start))
	}
}
