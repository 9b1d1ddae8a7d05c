package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os/exec"
	"regexp"
	"strconv"
)

// signLine matches a result line of pkg/ca's BenchmarkSign, e.g.
// "BenchmarkSign/RSA2048-2   2952   681052 ns/op   1468 signs/s".
var signLine = regexp.MustCompile(`^BenchmarkSign/(\S+?)(?:-\d+)?\s+\d+\s+([\d.]+) ns/op\s+([\d.]+) signs/s`)

// pureSignRates runs pkg/ca's BenchmarkSign (parse the CSR, check the identity, sign with
// the ECDSA P-256 intermediate; no TLS, no gRPC, no TokenReview) and returns signs per
// second by the CSR's key algorithm.
func pureSignRates(ctx context.Context, root string) (map[string]float64, error) {
	cmd := exec.CommandContext(ctx, "go", "test", "-run", "^$", "-bench", "^BenchmarkSign$", "-benchtime", "2s", "./pkg/ca")
	cmd.Dir = root
	out, err := cmd.CombinedOutput()
	if err != nil {
		return nil, fmt.Errorf("go test -bench BenchmarkSign ./pkg/ca: %w\n%s", err, out)
	}
	rates := map[string]float64{}
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		if m := signLine.FindStringSubmatch(sc.Text()); m != nil {
			v, err := strconv.ParseFloat(m[3], 64)
			if err == nil {
				rates[m[1]] = v
			}
		}
	}
	if len(rates) == 0 {
		return nil, fmt.Errorf("go test -bench BenchmarkSign ./pkg/ca printed no signs/s:\n%s", out)
	}
	return rates, nil
}
