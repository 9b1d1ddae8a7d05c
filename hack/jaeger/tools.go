//go:build tools

// Package jaeger pins Jaeger's main package so that go.sum lists every module its build needs.
package jaeger

import _ "github.com/jaegertracing/jaeger/cmd/jaeger"
