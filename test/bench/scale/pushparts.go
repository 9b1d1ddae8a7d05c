package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
)

// pushParts splits one change's way to the clients, as loom's /debug/push_status tells it
// (milliseconds): from the write's return to the watch event that triggered the push,
// the debounce, generating and marshaling the views, and from the push's end to the
// median client seeing the change.
type pushParts struct {
	eventMs, debounceMs, generateMs, deliveryMs float64
}

// loomPushStatus is the part of /debug/push_status read here.
type loomPushStatus struct {
	Reason          string    `json:"reason"`
	TriggeredAt     time.Time `json:"triggeredAt"`
	StartedAt       time.Time `json:"startedAt"`
	DurationSeconds float64   `json:"durationSeconds"`
}

// pushReason is the reason loom's /debug/push_status gives the push a change of the
// marker's kind causes: a debounced config push, or an endpoint push.
func pushReason(markerKind string) string {
	if markerKind == "endpoint" {
		return "endpoints"
	}
	return "trigger"
}

// lastPushParts reads loom's last push, which must have the reason given, and splits the
// time from written (the write's return) to seenP50 (the median client's sighting), both
// Unix nanoseconds.
func lastPushParts(metricsURL, reason string, written, seenP50 int64) (pushParts, error) {
	url := strings.TrimSuffix(metricsURL, "/metrics") + "/debug/push_status"
	resp, err := http.Get(url) //nolint:gosec,noctx // the benchmark's own loopback control plane
	if err != nil {
		return pushParts{}, err
	}
	defer func() { _ = resp.Body.Close() }()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return pushParts{}, err
	}
	var status struct {
		LastPush loomPushStatus `json:"lastPush"`
	}
	if err := json.Unmarshal(body, &status); err != nil {
		return pushParts{}, fmt.Errorf("%s: %w", url, err)
	}
	st := status.LastPush
	if st.Reason != reason {
		return pushParts{}, fmt.Errorf("last push was %q, not %q", st.Reason, reason)
	}
	end := st.StartedAt.Add(time.Duration(st.DurationSeconds * float64(time.Second)))
	return pushParts{
		eventMs:    float64(st.TriggeredAt.UnixNano()-written) / 1e6,
		debounceMs: float64(st.StartedAt.Sub(st.TriggeredAt)) / 1e6,
		generateMs: st.DurationSeconds * 1e3,
		deliveryMs: float64(seenP50-end.UnixNano()) / 1e6,
	}, nil
}

// medianParts is the per-part median over changes.
func medianParts(all []pushParts) pushParts {
	pick := func(f func(pushParts) float64) float64 {
		xs := make([]float64, len(all))
		for i, p := range all {
			xs[i] = f(p)
		}
		return percentile(xs, 50)
	}
	return pushParts{
		eventMs:    pick(func(p pushParts) float64 { return p.eventMs }),
		debounceMs: pick(func(p pushParts) float64 { return p.debounceMs }),
		generateMs: pick(func(p pushParts) float64 { return p.generateMs }),
		deliveryMs: pick(func(p pushParts) float64 { return p.deliveryMs }),
	}
}

func (p pushParts) String() string {
	return fmt.Sprintf("watch event %+.0f ms, debounce %.0f ms, generate and marshal %.0f ms, delivery to the median client %.0f ms",
		p.eventMs, p.debounceMs, p.generateMs, p.deliveryMs)
}
