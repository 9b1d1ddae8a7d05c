package main

import (
	"bufio"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// sample is what the control plane's /metrics says at one moment.
type sample struct {
	at         time.Duration // since the soak started
	rss        float64       // process_resident_memory_bytes
	goroutines float64       // go_goroutines
	views      float64       // loom_xds_views
	proxies    float64       // loom_xds_connected_proxies, summed over variants
	problems   float64       // loom_discovery_config_problems
}

func (s sample) String() string {
	return fmt.Sprintf("t=%5.0fs rss=%6.1f MiB goroutines=%5.0f views=%5.0f streams=%5.0f problems=%3.0f",
		s.at.Seconds(), s.rss/(1<<20), s.goroutines, s.views, s.proxies, s.problems)
}

// scrape reads a sample from a Prometheus text exposition.
func scrape(url string, at time.Duration) (sample, error) {
	c := &http.Client{Timeout: 5 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		return sample{}, err
	}
	defer func() { _ = resp.Body.Close() }()
	if resp.StatusCode != http.StatusOK {
		return sample{}, fmt.Errorf("%s: %s", url, resp.Status)
	}
	s, err := parseSample(resp.Body)
	s.at = at
	return s, err
}

// parseSample sums each wanted metric's series; it fails if RSS or
// goroutines are missing, since the bounds are about them.
func parseSample(r io.Reader) (sample, error) {
	var s sample
	wanted := map[string]*float64{
		"process_resident_memory_bytes":  &s.rss,
		"go_goroutines":                  &s.goroutines,
		"loom_xds_views":                 &s.views,
		"loom_xds_connected_proxies":     &s.proxies,
		"loom_discovery_config_problems": &s.problems,
	}
	seen := map[string]bool{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' {
			continue
		}
		name, rest, _ := strings.Cut(line, " ")
		if i := strings.IndexByte(name, '{'); i >= 0 {
			name = name[:i]
			_, rest, _ = strings.Cut(line[strings.LastIndexByte(line, '}')+1:], " ")
		}
		dst, ok := wanted[name]
		if !ok {
			continue
		}
		value, _, _ := strings.Cut(strings.TrimSpace(rest), " ")
		v, err := strconv.ParseFloat(value, 64)
		if err != nil {
			return s, fmt.Errorf("metric %s: value %q: %w", name, value, err)
		}
		*dst += v
		seen[name] = true
	}
	if err := sc.Err(); err != nil {
		return s, err
	}
	for _, n := range []string{"process_resident_memory_bytes", "go_goroutines"} {
		if !seen[n] {
			return s, fmt.Errorf("metric %s missing", n)
		}
	}
	return s, nil
}

// bounds say how much RSS and goroutines may grow from the sample after the
// warmup to the last one.
type bounds struct {
	rssGrowth       float64 // fraction
	goroutineGrowth float64 // fraction
	goroutineSlack  int     // plus this many
}

func defaultBounds() bounds { return bounds{rssGrowth: 0.5, goroutineGrowth: 0.2, goroutineSlack: 50} }

// check returns why end grew beyond the bounds from base, or nil.
func (b bounds) check(base, end sample) []string {
	var out []string
	if limit := base.rss * (1 + b.rssGrowth); end.rss > limit {
		out = append(out, fmt.Sprintf("RSS grew from %.1f MiB to %.1f MiB (bound %.1f MiB, +%.0f%%)",
			base.rss/(1<<20), end.rss/(1<<20), limit/(1<<20), 100*b.rssGrowth))
	}
	if limit := base.goroutines*(1+b.goroutineGrowth) + float64(b.goroutineSlack); end.goroutines > limit {
		out = append(out, fmt.Sprintf("goroutines grew from %.0f to %.0f (bound %.0f: +%.0f%% +%d)",
			base.goroutines, end.goroutines, limit, 100*b.goroutineGrowth, b.goroutineSlack))
	}
	return out
}
