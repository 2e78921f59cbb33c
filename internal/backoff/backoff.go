// Package backoff owns how long vpnwatchd waits after repeated failures:
// AWS throttling, router logins, alert deliveries. One capped exponential
// with jitter, safe for any number of failures (a shift by the failure
// count overflows after about 31 and would mean no wait at all).
package backoff

import (
	"math/rand/v2"
	"time"
)

// Policy is an exponential backoff: Base after the first failure, doubling
// up to Max.
type Policy struct {
	Base, Max time.Duration
}

// Wait returns the wait after the n-th consecutive failure (n ≥ 1; n ≤ 0 is
// treated as 1), without jitter: Base·2^(n−1), never more than Max, never
// negative, for any n.
func (p Policy) Wait(n int) time.Duration {
	if p.Base <= 0 {
		return 0
	}
	d := p.Base
	for i := 1; i < n && d < p.Max; i++ {
		d *= 2
	}
	return min(d, p.Max)
}

// Jittered is Wait spread by ±20 % so that many clients that failed
// together do not retry together.
func (p Policy) Jittered(n int) time.Duration {
	return Jitter(p.Wait(n), rand.Float64())
}

// Jitter spreads d by ±20 % with u in [0, 1).
func Jitter(d time.Duration, u float64) time.Duration {
	return time.Duration(float64(d) * (0.8 + 0.4*u))
}
