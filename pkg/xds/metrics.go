package xds

import (
	"github.com/prometheus/client_golang/prometheus"
)

// metrics are per Server, so several servers (tests) can coexist; they are
// registered only when a Registerer is given.
type metrics struct {
	pushes         *prometheus.CounterVec
	pushDuration   prometheus.Histogram
	generate       prometheus.Histogram
	generateErrors prometheus.Counter
	proxies        *prometheus.GaugeVec
	nacks          *prometheus.CounterVec
	bytesSent      *prometheus.CounterVec
	responses      *prometheus.CounterVec
	convergence    *prometheus.HistogramVec
	resources      *prometheus.GaugeVec
	views          prometheus.Gauge
	invalid        prometheus.Counter
	outOfDate      *outOfDateCollector
}

func newMetrics(reg prometheus.Registerer) *metrics {
	latency := []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60}
	m := &metrics{
		pushes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "loom_xds_pushes_total",
			Help: "Pushes run, by reason: ready (first push after SetReady), trigger (debounced Trigger), new_view (first generation of a view a new proxy needs).",
		}, []string{"reason"}),
		pushDuration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "loom_xds_push_duration_seconds",
			Help:    "Time to generate and marshal every view of a push (before sending).",
			Buckets: latency,
		}),
		generate: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "loom_xds_generate_duration_seconds",
			Help:    "Time to generate and marshal one view.",
			Buckets: latency,
		}),
		generateErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "loom_xds_generate_errors_total",
			Help: "Generate calls that failed; the view keeps serving its last good resources.",
		}),
		proxies: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "loom_xds_connected_proxies",
			Help: "Connected ADS streams by protocol variant (sotw or delta).",
		}, []string{"stream"}),
		nacks: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "loom_xds_nacks_total",
			Help: "Responses rejected by proxies, by resource type.",
		}, []string{"type"}),
		bytesSent: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "loom_xds_bytes_sent_total",
			Help: "Serialized size of the responses sent, by resource type.",
		}, []string{"type"}),
		responses: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "loom_xds_responses_total",
			Help: "Responses sent, by resource type and stream variant.",
		}, []string{"type", "stream"}),
		convergence: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "loom_xds_convergence_seconds",
			Help: "Time from the Trigger that started a push until every stream it sent responses to has answered them " +
				"(result: acked; nacked if any answer was a NACK; disconnected if a stream closed before answering).",
			Buckets: latency,
		}, []string{"result"}),
		resources: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "loom_xds_resources",
			Help: "Resources held across all views, by type (a resource shared by two views counts twice).",
		}, []string{"type"}),
		views: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "loom_xds_views",
			Help: "Views held: those with a connected stream, and those whose last stream closed less than the grace period ago with no push since.",
		}),
		invalid: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "loom_xds_invalid_resources_total",
			Help: "Generated resources skipped because they cannot be served (nil, unnamed, duplicate, wrong type).",
		}),
		outOfDate: newOutOfDateCollector(),
	}
	if reg != nil {
		reg.MustRegister(m.pushes, m.pushDuration, m.generate, m.generateErrors, m.proxies, m.nacks,
			m.bytesSent, m.responses, m.convergence, m.resources, m.views, m.invalid, m.outOfDate)
	}
	return m
}
