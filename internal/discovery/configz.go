package discovery

import (
	"encoding/json"
	"net/http"
	"slices"
	"strings"
)

// configzEntry is one Istio object the current model was built from.
type configzEntry struct {
	Object          string `json:"object"` // "VirtualService ns/name"
	ResourceVersion string `json:"resourceVersion"`
	Skipped         bool   `json:"skipped,omitempty"` // undecodable: listed on /debug/problems
}

// configz lists the Istio objects (of the kinds Loom acts on) the last model
// build read, with their resourceVersions: a proxy that connects once an
// object is listed gets config that includes it.
func (w *istioInputs) configz() []configzEntry {
	w.mu.Lock()
	out := make([]configzEntry, 0, len(w.decoded))
	for _, d := range w.decoded {
		out = append(out, configzEntry{Object: d.name, ResourceVersion: d.resourceVersion, Skipped: d.problem != nil})
	}
	w.mu.Unlock()
	slices.SortFunc(out, func(a, b configzEntry) int { return strings.Compare(a.Object, b.Object) })
	return out
}

func (w *istioInputs) ServeHTTP(rw http.ResponseWriter, _ *http.Request) {
	rw.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(rw).Encode(map[string]any{"objects": w.configz()})
}
