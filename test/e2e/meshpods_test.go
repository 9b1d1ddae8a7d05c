package e2e

import (
	"encoding/json"
	"math"
	"strings"
	"testing"
)

// clientSummary is the JSON summary grpcecho's client prints last.
type summaryOfClient struct {
	Total, OK  int
	Backends   map[string]int
	Identities map[string]int
}

func clientSummary(t *testing.T, log string) summaryOfClient {
	t.Helper()
	var summary summaryOfClient
	lines := strings.Split(strings.TrimSpace(log), "\n")
	if json.Unmarshal([]byte(lines[len(lines)-1]), &summary) != nil {
		t.Fatalf("client printed no summary:\n%s", log)
	}
	return summary
}

// checkMutualTLS checks every call of the client's summary went over mTLS with the server's
// and the client's SPIFFE ids.
func checkMutualTLS(t *testing.T, log, server, client string) {
	t.Helper()
	s := clientSummary(t, log)
	want := "server=" + server + " client=" + client
	if s.Identities[want] != s.Total || s.Total == 0 {
		t.Fatalf("want all %d calls over mTLS as %q, got %v", s.Total, want, s.Identities)
	}
	t.Logf("mTLS: %s", want)
}

// checkSplit reads the client's JSON summary and checks the 80/20 split.
func checkSplit(t *testing.T, log string) {
	t.Helper()
	summary := clientSummary(t, log)
	if summary.Total != 1000 || summary.OK != 1000 {
		t.Fatalf("client: %d of %d RPCs ok:\n%s", summary.OK, summary.Total, log)
	}
	v1 := 100 * float64(summary.Backends["echo-v1"]) / 1000
	v2 := 100 * float64(summary.Backends["echo-v2"]) / 1000
	if math.Abs(v1-80) > 5 || math.Abs(v2-20) > 5 {
		t.Fatalf("split %.1f%%/%.1f%%, want 80/20 within 5 points:\n%s", v1, v2, log)
	}
	t.Logf("proxyless client through the control-plane pod: echo-v1 %.1f%%, echo-v2 %.1f%%", v1, v2)
}
