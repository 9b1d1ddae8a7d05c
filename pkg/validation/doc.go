// Package validation checks Istio configuration as istiod's validating webhook does, for what
// the CRD schemas Loom installs cannot express: regular expressions RE2 refuses, weights,
// duplicate names, host syntax, combinations of fields. The checks shared with the
// translator (pkg/translate) live here, so that the webhook rejects what the translator
// would leave out, with the same words.
//
// Every function is pure: it reads an istio.io/api message and returns findings naming the
// field path ("spec.http[0].route[1].weight"). Errors reject the object; warnings are what
// Istio only warns about.
package validation
