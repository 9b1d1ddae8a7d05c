package main

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

// lastPushParts splits a change's way by loom's own account of its last push, and
// refuses a last push of another kind than the change causes.
func TestLastPushParts(t *testing.T) {
	written := time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC)
	triggered, started := written.Add(3*time.Millisecond), written.Add(8*time.Millisecond)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprintf(w, `{"lastPush":{"reason":"endpoints","triggeredAt":%q,"startedAt":%q,"durationSeconds":0.002}}`,
			triggered.Format(time.RFC3339Nano), started.Format(time.RFC3339Nano))
	}))
	defer srv.Close()
	seen := written.Add(30 * time.Millisecond).UnixNano()
	p, err := lastPushParts(srv.URL+"/metrics", pushReason("endpoint"), written.UnixNano(), seen)
	if err != nil {
		t.Fatal(err)
	}
	if p.eventMs != 3 || p.debounceMs != 5 || p.generateMs != 2 || p.deliveryMs != 20 {
		t.Errorf("parts %+v, want event 3, debounce 5, generate 2, delivery 20 ms", p)
	}
	if _, err := lastPushParts(srv.URL+"/metrics", pushReason("route"), written.UnixNano(), seen); err == nil {
		t.Error("an endpoint push was taken for a VirtualService change's")
	}
}
