package discovery

import "github.com/prometheus/client_golang/prometheus"

type metrics struct {
	modelBuild  prometheus.Histogram
	translation prometheus.Histogram
	problems    prometheus.Gauge
	// foreignRevision counts proxies set up for another revision than ours.
	foreignRevision *prometheus.CounterVec
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		modelBuild: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "loom_discovery_model_build_seconds", Help: "Time to read the watched objects and build a model snapshot.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 16),
		}),
		translation: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "loom_discovery_translation_seconds", Help: "Time to translate the model into one view's Envoy resources.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 16),
		}),
		problems: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "loom_discovery_config_problems", Help: "Configuration problems currently skipped (see /debug/problems).",
		}),
		foreignRevision: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "loom_discovery_foreign_revision_proxies_total",
			Help: "Proxies that connected although set up for another control-plane revision (label revision: theirs).",
		}, []string{"revision"}),
	}
	if reg != nil {
		reg.MustRegister(m.modelBuild, m.translation, m.problems, m.foreignRevision)
	}
	return m
}
