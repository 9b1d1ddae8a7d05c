package inject

import (
	"slices"
	"testing"
)

// proxyArgsFor injects a pod with annotations and returns istio-proxy's args.
func proxyArgsFor(t *testing.T, annotations map[string]string) []string {
	t.Helper()
	return injectedInit(t, injectOrFail(t, podWith(annotations)), containerProxy).Args
}

// TestEnvoyLogLevels: Istio's agent's reading of logLevel and
// componentLogLevel (splitComponentLog) becomes the agent's
// --proxy-log-level and --proxy-component-log-level.
func TestEnvoyLogLevels(t *testing.T) {
	cases := []struct {
		logLevel, componentLogLevel *string
		level, components           string // "" for no flag
	}{
		{ptrTo("info"), nil, "info", ""},
		{nil, ptrTo("misc:error"), "", "misc:error"},
		{nil, ptrTo("misc:error,upstream:debug"), "", "misc:error,upstream:debug"},
		{ptrTo("warning,misc:debug"), ptrTo("upstream:info"), "warning", "misc:debug"},
		{ptrTo("upstream:debug"), nil, "", "upstream:debug"},
		{ptrTo("trace"), ptrTo("upstream:info"), "trace", "upstream:info"},
		{ptrTo("info,debug"), nil, "debug", ""},
		{ptrTo("info,"), nil, "", ""}, // the last bare level, empty, wins
		{ptrTo(""), ptrTo(""), "", ""},
		{ptrTo("off"), nil, "off", ""},
	}
	for _, c := range cases {
		annotations := map[string]string{}
		if c.logLevel != nil {
			annotations[annotationLogLevel] = *c.logLevel
		}
		if c.componentLogLevel != nil {
			annotations[annotationComponentLog] = *c.componentLogLevel
		}
		args := proxyArgsFor(t, annotations)
		level, _ := flagValue(args, "--proxy-log-level")
		components, _ := flagValue(args, "--proxy-component-log-level")
		if level != c.level || components != c.components {
			t.Errorf("%v: level %q components %q, want %q and %q (args %q)", annotations, level, components, c.level, c.components, args)
		}
	}
}

// TestAgentLogLevel: agentLogLevel's default and "all" scopes set the
// agent's --zap-log-level, in both templates.
func TestAgentLogLevel(t *testing.T) {
	for value, want := range map[string]string{
		"debug":                  "debug",
		"info":                   "info",
		"warn":                   "error",
		"fatal":                  "panic",
		"none":                   "panic",
		"default:info,all:debug": "debug",
		"all:debug,default:info": "info",
		"ads:debug":              "",
		"ads:debug,error":        "error",
	} {
		for _, template := range []string{TemplateSidecar, TemplateGRPCAgent} {
			out := injectOrFail(t, podWith(map[string]string{annotationAgentLog: value, annotationTemplates: template}))
			for _, c := range out.Spec.InitContainers {
				if c.Name == containerInit {
					continue
				}
				got, _ := flagValue(c.Args, "--zap-log-level")
				if got != want {
					t.Errorf("%s %q: %s --zap-log-level %q, want %q (args %q)", template, value, c.Name, got, want, c.Args)
				}
			}
		}
	}
}

// TestProxyConfigEnvoyFields: concurrency, drainDuration and proxyMetadata
// of proxy.istio.io/config.
func TestProxyConfigEnvoyFields(t *testing.T) {
	cases := []struct {
		config string
		flags  map[string]string // flag -> value; "" for absent
	}{
		{"concurrency: 4", map[string]string{"--concurrency": "4", "--proxy-drain-duration": ""}},
		{"concurrency: 0", map[string]string{"--concurrency": ""}},
		{"drainDuration: 45s", map[string]string{"--proxy-drain-duration": "45s", "--drain-duration": ""}},
		{"{drainDuration: 120s, terminationDrainDuration: 10s}", map[string]string{"--proxy-drain-duration": "2m0s", "--drain-duration": "10s"}},
	}
	for _, c := range cases {
		args := proxyArgsFor(t, map[string]string{annotationProxyConfig: c.config})
		for flag, want := range c.flags {
			got, ok := flagValue(args, flag)
			if got != want || ok != (want != "") {
				t.Errorf("%q: %s %q, want %q (args %q)", c.config, flag, got, want, args)
			}
		}
	}
}

// TestProxyMetadata: proxyMetadata becomes environment variables of the
// agent's containers, sorted by name; one the injector sets is replaced.
func TestProxyMetadata(t *testing.T) {
	config := "proxyMetadata: {ZED: z, ISTIO_META_DNS_CAPTURE: 'true', CA_ADDR: 'ca.example:15012'}"
	for _, template := range []string{TemplateSidecar, TemplateGRPCAgent} {
		out := injectOrFail(t, podWith(map[string]string{annotationProxyConfig: config, annotationTemplates: template}))
		for _, c := range out.Spec.InitContainers {
			if c.Name == containerInit {
				continue
			}
			var names []string
			for _, e := range c.Env {
				names = append(names, e.Name)
			}
			dns, _ := envValue(c, "ISTIO_META_DNS_CAPTURE")
			ca, _ := envValue(c, "CA_ADDR")
			zed := slices.Index(names, "ZED")
			if dns != "true" || ca != "ca.example:15012" || zed < 0 || zed < slices.Index(names, "ISTIO_META_DNS_CAPTURE") ||
				countOf(names, "CA_ADDR") != 1 {
				t.Errorf("%s %s env %q", template, c.Name, names)
			}
		}
	}
}

func countOf(list []string, item string) int {
	n := 0
	for _, x := range list {
		if x == item {
			n++
		}
	}
	return n
}
