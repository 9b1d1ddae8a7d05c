package inject

import (
	"fmt"
	"strings"
)

// Istio's agent log scopes that stand for Loom's agent's one logger: the
// default scope (a bare level) and "all", which sets every scope.
const (
	agentScopeDefault = "default"
	agentScopeAll     = "all"
)

// agentLevels map Istio's log levels onto `loom agent --zap-log-level`.
// Loom's logger has no warning level: "warn" keeps the errors only, as
// "error" does; "fatal" and "none" keep nothing the agent logs.
var agentLevels = map[string]string{
	"debug": "debug", "info": "info", "warn": "error", "error": "error", "fatal": "panic", "none": "panic",
}

// agentLogLevel reads sidecar.istio.io/agentLogLevel as Istio's agent reads
// its --log_output_level: a comma list of level or scope:level; a bad
// level is an error. Loom's agent has one logger, set by the default and
// "all" scopes (the last one wins); other scopes are Istio's agent's own,
// which Warnings names. It returns the --zap-log-level value, "" for none.
func agentLogLevel(annotations map[string]string) (string, error) {
	v, ok := annotations[annotationAgentLog]
	if !ok {
		return "", nil
	}
	var level string
	for _, entry := range strings.Split(v, ",") {
		scope, l, err := agentScopedLevel(entry)
		if err != nil {
			return "", annotationError(annotationAgentLog, v, err)
		}
		if scope == agentScopeDefault || scope == agentScopeAll {
			level = agentLevels[l]
		}
	}
	return level, nil
}

// agentScopedLevel is Istio's convertScopedLevel: level alone is the
// default scope's.
func agentScopedLevel(entry string) (scope, level string, err error) {
	pieces := strings.Split(entry, ":")
	switch len(pieces) {
	case 1:
		scope, level = agentScopeDefault, pieces[0]
	case 2:
		scope, level = pieces[0], pieces[1]
	default:
		return "", "", fmt.Errorf("%q: want level or scope:level", entry)
	}
	if _, ok := agentLevels[level]; !ok {
		return "", "", fmt.Errorf("%q: level %q: want debug, info, warn, error, fatal or none", entry, level)
	}
	return scope, level, nil
}

// agentScopesIgnored names the scopes of a valid agentLogLevel value that
// Loom's agent has no logger for.
func agentScopesIgnored(value string) []string {
	var out []string
	for _, entry := range strings.Split(value, ",") {
		scope, _, err := agentScopedLevel(entry)
		if err == nil && scope != agentScopeDefault && scope != agentScopeAll {
			out = append(out, scope)
		}
	}
	return out
}

// agentLogArgs is the flag that sets the agent's log level ("" for none).
func agentLogArgs(zapLevel string) []string {
	if zapLevel == "" {
		return nil
	}
	return []string{"--zap-log-level", zapLevel}
}
