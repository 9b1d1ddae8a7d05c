package xds

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	discoveryv3 "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
)

func getJSON(t *testing.T, h http.Handler, path string, wantCode int, into any) {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
	if rec.Code != wantCode {
		t.Fatalf("GET %s: %d %s", path, rec.Code, rec.Body.String())
	}
	if into != nil {
		if err := json.Unmarshal(rec.Body.Bytes(), into); err != nil {
			t.Fatalf("GET %s: %v\n%s", path, err, rec.Body.String())
		}
	}
}

func TestDebugEndpoints(t *testing.T) {
	e := startEnv(t, true)
	e.gen.set("default", cdsType, clusters(2, 0)...)
	e.gen.set("default", edsType, endpoints("c0", 80))
	e.gen.set("default", rdsType, route("r0", "c0"))
	c := e.sotw("envoy-dbg", "")
	c.request(cdsType)
	cds := c.recv()
	c.ack(cds)
	c.request(edsType, "c0")
	c.ack(c.recv(), "c0")
	d := e.delta("delta-dbg", "")
	d.send(&discoveryv3.DeltaDiscoveryRequest{TypeUrl: rdsType, ResourceNamesSubscribe: []string{"r0"}})
	dr := d.recv()
	d.ack(dr)
	waitFor(t, "ACKs recorded", func() bool {
		n := 0
		for _, p := range e.srv.Proxies() {
			for _, ts := range p.Types {
				if ts.AckedNonce != "" && ts.Unanswered == 0 {
					n++
				}
			}
		}
		return n == 3
	})
	h := e.srv.DebugHandler()

	var syncz []ProxyStatus
	getJSON(t, h, "/debug/syncz", http.StatusOK, &syncz)
	if len(syncz) != 2 || syncz[0].Node != "delta-dbg" || syncz[1].Node != "envoy-dbg" {
		t.Fatalf("syncz = %+v", syncz)
	}
	s := syncz[1]
	if s.Kind != "sotw" || s.View != "default" || !s.Types[cdsType].Wildcard || s.Types[edsType].Subscribed != 1 ||
		s.Types[cdsType].AckedVersion != cds.VersionInfo || s.Types[cdsType].SentNonce != cds.Nonce {
		t.Fatalf("sotw syncz entry = %+v", s)
	}
	if syncz[0].Kind != "delta" || syncz[0].Types[rdsType].SentResources != 1 {
		t.Fatalf("delta syncz entry = %+v", syncz[0])
	}

	var dump struct {
		Node    string
		Streams []struct {
			Kind  string
			Types map[string]struct {
				AckedVersion string `json:"ackedVersion"`
				Resources    []map[string]any
			}
		}
	}
	getJSON(t, h, "/debug/config_dump?proxy=envoy-dbg", http.StatusOK, &dump)
	if len(dump.Streams) != 1 {
		t.Fatalf("config_dump streams = %d", len(dump.Streams))
	}
	cl := dump.Streams[0].Types[cdsType].Resources
	if len(cl) != 2 || cl[0]["@type"] != cdsType || cl[0]["name"] != "c0" {
		t.Fatalf("config_dump clusters = %v", cl)
	}
	if eps := dump.Streams[0].Types[edsType].Resources; len(eps) != 1 || eps[0]["cluster_name"] != "c0" {
		t.Fatalf("config_dump endpoints = %v", eps)
	}
	getJSON(t, h, "/debug/config_dump?proxy=delta-dbg", http.StatusOK, &dump)
	if r := dump.Streams[0].Types[rdsType].Resources; len(r) != 1 || r[0]["name"] != "r0" {
		t.Fatalf("delta config_dump routes = %v", r)
	}
	getJSON(t, h, "/debug/config_dump?proxy=nobody", http.StatusNotFound, nil)
	getJSON(t, h, "/debug/config_dump", http.StatusBadRequest, nil)

	var ps struct {
		Ready    bool
		Pushes   int
		Views    int
		Streams  int
		LastPush PushStatus
	}
	getJSON(t, h, "/debug/push_status", http.StatusOK, &ps)
	if !ps.Ready || ps.Pushes < 1 || ps.Views != 1 || ps.Streams != 2 || ps.LastPush.Resources[cdsType] != 2 {
		t.Fatalf("push_status = %+v", ps)
	}

	// A NACK shows in syncz with its message.
	e.gen.set("default", cdsType, clusters(2, 1)...)
	e.trigger()
	c.nack(c.recv(), cds.VersionInfo, "cluster c0: invalid")
	waitFor(t, "NACK in syncz", func() bool {
		for _, p := range e.srv.Proxies() {
			if n := p.Types[cdsType].LastNack; n != nil && strings.Contains(n.Error, "invalid") {
				return true
			}
		}
		return false
	})
	// The config dump still shows the last ACKed clusters.
	getJSON(t, h, "/debug/config_dump?proxy=envoy-dbg", http.StatusOK, &dump)
	if v := dump.Streams[0].Types[cdsType].AckedVersion; v != cds.VersionInfo {
		t.Fatalf("config_dump acked version after NACK = %s, want %s", v, cds.VersionInfo)
	}
}
