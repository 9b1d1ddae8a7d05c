// Package prometheus checks the Prometheus add-on's configuration and rules with Prometheus's
// own promtool (Debian's prometheus package; `make prometheus-tools` installs it): the
// rendered prometheus.yml, the rules file, and the rule unit tests in testdata.
package prometheus
