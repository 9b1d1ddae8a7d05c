package validation

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// Weights of several destinations, HTTP or TCP/TLS, are handled as istiod does: each
// destination keeps its own weight (zero ones are left out) and the proxy splits traffic in
// proportion to the sum, whatever it is, so 50+40 sends 50/90 (55.6%) and 40/90 (44.4%) of
// requests. istiod neither rescales nor rounds nor rejects a sum other than 100; it rejects
// negative weights and an all-zero sum, and Envoy and gRPC reject a sum above 2^32-1.

// Weights returns the field (relative to the route list, "[1].weight" or "") and the error
// of weights a proxy cannot split by.
func Weights(weights []int32) (string, error) {
	var total int64
	for i, w := range weights {
		if w < 0 {
			return fmt.Sprintf("[%d].weight", i), fmt.Errorf("%d must not be negative", w)
		}
		total += int64(w)
	}
	switch {
	case total == 0:
		return "", fmt.Errorf("the weights of %d destinations are all 0", len(weights))
	case total > math.MaxUint32:
		return "", fmt.Errorf("weights add up to %d, more than proxies accept (%d)", total, uint64(math.MaxUint32))
	}
	return "", nil
}

// WeightsShare describes, for checked weights that do not add up to 100, the share of
// traffic each destination gets; "" when they add up to 100.
func WeightsShare(weights []int32) string {
	var total int64
	for _, w := range weights {
		total += int64(w)
	}
	if total == 100 {
		return ""
	}
	shares := make([]string, 0, len(weights))
	for i, w := range weights {
		if w == 0 {
			continue
		}
		pct := strconv.FormatFloat(float64(w)*100/float64(total), 'f', 1, 64)
		shares = append(shares, fmt.Sprintf("[%d] %s%%", i, pct))
	}
	return fmt.Sprintf("weights add up to %d, not 100; each destination gets its weight's share of the sum, as in Istio: %s",
		total, strings.Join(shares, ", "))
}
