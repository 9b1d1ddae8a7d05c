package translate

import "loom.dev/loom/pkg/validation"

// The translator weighs destinations with the validator's checks (one rule for both).
var (
	checkWeights = validation.Weights
	weightsShare = validation.WeightsShare
)
