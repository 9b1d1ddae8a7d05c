package main

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"loom.dev/loom/internal/agent"
)

func TestSignLineParsesBenchmarkSign(t *testing.T) {
	cases := map[string][]string{
		"BenchmarkSign/RSA2048-2  	    2952	    681052 ns/op	      1468 signs/s":         {"RSA2048", "1468"},
		"BenchmarkSign/ECDSA_P256         	    8907	    445811 ns/op	      2243 signs/s": {"ECDSA_P256", "2243"},
	}
	for line, want := range cases {
		m := signLine.FindStringSubmatch(line)
		if m == nil || m[1] != want[0] || m[3] != want[1] {
			t.Errorf("signLine on %q = %q, want algorithm %s and %s signs/s", line, m, want[0], want[1])
		}
	}
	if m := signLine.FindStringSubmatch("BenchmarkGenerateKey/RSA2048-2  36  112560819 ns/op  8.884 keys/s"); m != nil {
		t.Errorf("signLine matched a key generation line: %q", m)
	}
}

func TestOptionsCheck(t *testing.T) {
	good := options{agents: 10, ratePool: 4, window: time.Second, fleetKey: agent.ECDSAP256, fleetMode: fleetAgents, concurrency: []int{1, 8}, peers: []string{peerIstiod}}
	if err := good.check(); err != nil {
		t.Fatalf("valid options refused: %v", err)
	}
	bad := map[string]func(o *options){
		"--agents":      func(o *options) { o.agents = 0 },
		"--fleet-key":   func(o *options) { o.fleetKey = "DSA" },
		"--concurrency": func(o *options) { o.concurrency = []int{0} },
		"--peers":       func(o *options) { o.peers = []string{"linkerd"} },
		"--window":      func(o *options) { o.window = time.Millisecond },
		"--fleet-mode":  func(o *options) { o.fleetMode = "pods" },
	}
	for flag, spoil := range bad {
		o := good
		spoil(&o)
		err := o.check()
		if err == nil || !strings.Contains(err.Error(), flag) {
			t.Errorf("options with a bad %s: error %v, want one naming the flag", flag, err)
		}
	}
	if _, err := parseInts("1,x"); err == nil {
		t.Error(`parseInts("1,x") accepted a word`)
	}
}

func TestReportRatiosAndJSON(t *testing.T) {
	r := &report{Agents: 2, ServiceAccounts: 2, FleetKey: "ECDSA_P256", WindowS: 1, Planes: []*planeResult{
		{Name: "loom", Rates: []rateResult{{Alg: "RSA2048", Concurrency: 8, Certs: 400, PerSecond: 400, CPU: cpuSample{plane: 0.4}}},
			Fleet: &fleetResult{Agents: 2, OK: 2, AllS: 1, PlaneCPUS: 1}},
		{Name: "istiod", Rates: []rateResult{{Alg: "RSA2048", Concurrency: 8, Certs: 100, PerSecond: 100, CPU: cpuSample{plane: 0.4}}},
			Fleet: &fleetResult{Agents: 2, OK: 2, AllS: 4, PlaneCPUS: 2}},
	}}
	var out bytes.Buffer
	r.print(&out)
	text := out.String()
	for _, want := range []string{"loom/istiod", "4.00", "0.25", "all agents certified 0.25x the time, plane CPU 0.50x"} {
		if !strings.Contains(text, want) {
			t.Errorf("report lacks %q:\n%s", want, text)
		}
	}
	if line := r.jsonLine(); strings.Contains(line, `"error"`) || !strings.HasPrefix(line, `{"agents":2`) {
		t.Errorf("JSON line: %s", line)
	}
	if pct(nil, 50) != 0 {
		t.Error("pct of nothing is not 0")
	}
}
