package main

import (
	"fmt"
	"net/http"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// statusWritesMetric counts `loom discovery`'s status writes on Istio objects, by result.
const statusWritesMetric = "loom_status_writes_total"

// statusWrites reads how many status writes (every result: each is an apiserver request) a
// control plane has sent, from its /metrics.
func statusWrites(metricsURL string) (float64, error) {
	resp, err := http.Get(metricsURL)
	if err != nil {
		return 0, err
	}
	defer func() { _ = resp.Body.Close() }()
	if resp.StatusCode != http.StatusOK {
		return 0, fmt.Errorf("%s: %s", metricsURL, resp.Status)
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(resp.Body)
	if err != nil {
		return 0, fmt.Errorf("%s: %w", metricsURL, err)
	}
	var n float64
	for _, m := range families[statusWritesMetric].GetMetric() {
		n += m.GetCounter().GetValue()
	}
	return n, nil
}
