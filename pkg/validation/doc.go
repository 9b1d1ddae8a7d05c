// Package validation checks Istio configuration as istiod's validating webhook does, for what
// the CRD schemas Loom installs cannot express: regular expressions RE2 refuses, weights,
// duplicate names, host syntax, combinations of fields; and Istio's analysis of rules that can
// never match, as warnings. The checks shared with the translator (pkg/translate) live here,
// so that the webhook rejects what the translator would leave out, with the same words; the
// checks of Telemetry and of Loom's RateLimitPolicy that the control plane's model applies
// (pkg/model) are called from here, so that the webhook and the control plane agree.
//
// Every function is pure: it reads an istio.io/api message (or Loom's API type) and returns
// findings naming the field path ("spec.http[0].route[1].weight"). Errors reject the object;
// warnings are what Istio only warns about and what Loom does not enforce yet.
package validation
