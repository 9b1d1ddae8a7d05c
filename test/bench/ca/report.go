package main

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"sort"
	"strings"
	"text/tabwriter"

	"loom.dev/loom/test/bench/grpcfloor/floor"
)

// planeResult is everything measured for one control plane.
type planeResult struct {
	Name     string       `json:"name"`
	StartupS float64      `json:"startup_s"`
	CAReadyS float64      `json:"ca_ready_s"` // ready -> first certificate signed
	Rates    []rateResult `json:"rates"`
	Fleet    *fleetResult `json:"fleet,omitempty"`
	Err      string       `json:"error,omitempty"`
}

type report struct {
	Agents          int                `json:"agents"`
	ServiceAccounts int                `json:"service_accounts"`
	FleetKey        string             `json:"fleet_key"`
	FleetMode       string             `json:"fleet_mode"`
	WindowS         float64            `json:"rate_window_s"`
	PureSignPerS    map[string]float64 `json:"pure_sign_per_s"` // pkg/ca BenchmarkSign
	PureSignErr     string             `json:"pure_sign_error,omitempty"`
	Planes          []*planeResult     `json:"planes"`
}

func (r *report) plane(name string) *planeResult {
	for _, p := range r.Planes {
		if p.Name == name {
			return p
		}
	}
	return nil
}

func (r *report) print(w io.Writer) {
	fmt.Fprintf(w, "\nCA benchmark: %d agents, %d ServiceAccounts (one TokenRequest token each, audience %s), namespace %s\n",
		r.Agents, r.ServiceAccounts, audience, benchNamespace)
	switch {
	case r.PureSignErr != "":
		fmt.Fprintf(w, "pure signing (pkg/ca BenchmarkSign): failed: %s\n", r.PureSignErr)
	case len(r.PureSignPerS) == 0:
		fmt.Fprintln(w, "pure signing (pkg/ca BenchmarkSign): not run (--sign-bench=false)")
	default:
		keys := make([]string, 0, len(r.PureSignPerS))
		for k := range r.PureSignPerS {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		fmt.Fprint(w, "pure signing, loom (pkg/ca BenchmarkSign, parse CSR + check identity + sign, one core):")
		for _, k := range keys {
			fmt.Fprintf(w, "  %s %.0f/s", k, r.PureSignPerS[k])
		}
		fmt.Fprintln(w)
	}
	for _, p := range r.Planes {
		if p.Err != "" {
			fmt.Fprintf(w, "%s: %s\n", p.Name, p.Err)
		}
	}

	fmt.Fprintf(w, "\nsigning rate end to end (TLS gRPC + TokenReview + sign; CSRs made beforehand; one connection per caller; %.0fs window)\n", r.WindowS)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "plane\tworkload key\tcallers\tcerts/s\tp50 ms\tp99 ms\terrors\tplane CPU ms/cert\tapiserver+etcd CPU ms/cert\t")
	for _, p := range r.Planes {
		for _, x := range p.Rates {
			fmt.Fprintf(tw, "%s\t%s\t%d\t%.1f\t%.1f\t%.1f\t%d\t%.2f\t%.2f\t\n", p.Name, x.Alg, x.Concurrency, x.PerSecond, x.P50Ms, x.P99Ms, x.Errors,
				x.planeMsPerCert(), perCert(x.CPU.apiserver, x.Certs))
		}
	}
	_ = tw.Flush()

	if r.FleetMode == string(fleetRaw) {
		fmt.Fprintf(w, "\ncold start of %d raw CSR clients (%s keys and CSRs made beforehand; each: new TLS connection + TokenReview + sign)\n", r.Agents, r.FleetKey)
	} else {
		fmt.Fprintf(w, "\ncold start of %d in-process loom agents (internal/agent, Once; each: %s key + CSR + new TLS connection + TokenReview + sign + files)\n", r.Agents, r.FleetKey)
	}
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "plane\tok\tfailed\tretries\tall s\tp50 s\tp99 s\tplane CPU s\tapiserver+etcd CPU s\tagents CPU s\t")
	var firstErrors []string
	for _, p := range r.Planes {
		if f := p.Fleet; f != nil {
			fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%.2f\t%.2f\t%.2f\t%.2f\t%.2f\t%.2f\t\n", p.Name, f.OK, f.Failed, f.Retries, f.AllS, f.P50S, f.P99S, f.PlaneCPUS, f.APICPUS, f.AgentsCPUS)
			if f.FirstError != "" {
				firstErrors = append(firstErrors, fmt.Sprintf("%s: first failed request: %s", p.Name, f.FirstError))
			}
		}
	}
	_ = tw.Flush()
	for _, e := range firstErrors {
		fmt.Fprintln(w, e)
	}
	r.printRatios(w)
}

// printRatios compares loom with each istiod run: certs/s (above 1: loom signs more), and
// CPU per certificate, fleet time and fleet CPU (below 1: loom needs less).
func (r *report) printRatios(w io.Writer) {
	l := r.plane("loom")
	if l == nil {
		return
	}
	for _, i := range r.Planes {
		if strings.HasPrefix(i.Name, peerIstiod) {
			printRatio(w, l, i)
		}
	}
}

func printRatio(w io.Writer, l, i *planeResult) {
	fmt.Fprintf(w, "\nloom/%s\n", i.Name)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "workload key\tcallers\tcerts/s\tplane CPU per cert\t")
	for _, lx := range l.Rates {
		for _, ix := range i.Rates {
			if lx.Alg == ix.Alg && lx.Concurrency == ix.Concurrency {
				fmt.Fprintf(tw, "%s\t%d\t%.2f\t%.2f\t\n", lx.Alg, lx.Concurrency, ratio(lx.PerSecond, ix.PerSecond), ratio(lx.planeMsPerCert(), ix.planeMsPerCert()))
			}
		}
	}
	_ = tw.Flush()
	if l.Fleet != nil && i.Fleet != nil {
		fmt.Fprintf(w, "fleet: all agents certified %.2fx the time, plane CPU %.2fx\n", ratio(l.Fleet.AllS, i.Fleet.AllS), ratio(l.Fleet.PlaneCPUS, i.Fleet.PlaneCPUS))
	}
}

func perCert(cpuS float64, certs int) float64 {
	if certs == 0 {
		return math.NaN()
	}
	return cpuS * 1000 / float64(certs)
}

func ratio(a, b float64) float64 {
	if b == 0 {
		return math.NaN()
	}
	return a / b
}

// pct is the q-th percentile (nearest rank) of xs, 0 when there is none, so that the
// JSON line stays valid.
func pct(xs []float64, q float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	return floor.Percentile(xs, q)
}

// jsonLine is every figure as one JSON object.
func (r *report) jsonLine() string {
	b, err := json.Marshal(r)
	if err != nil {
		return fmt.Sprintf(`{"error":%q}`, err.Error())
	}
	return string(b)
}
