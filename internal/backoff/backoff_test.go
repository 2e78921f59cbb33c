package backoff

import (
	"testing"
	"time"
)

func TestWaitIsCappedForAnyCount(t *testing.T) {
	p := Policy{Base: 15 * time.Second, Max: 10 * time.Minute}
	for _, tc := range []struct {
		n    int
		want time.Duration
	}{
		{-3, 15 * time.Second}, {0, 15 * time.Second}, {1, 15 * time.Second}, {2, 30 * time.Second}, {3, time.Minute},
		{6, 8 * time.Minute}, {7, 10 * time.Minute}, {31, 10 * time.Minute}, {32, 10 * time.Minute}, {64, 10 * time.Minute},
		{100, 10 * time.Minute}, {1 << 30, 10 * time.Minute},
	} {
		if got := p.Wait(tc.n); got != tc.want {
			t.Errorf("Wait(%d) = %v, want %v", tc.n, got, tc.want)
		}
	}
	for n := 1; n <= 100; n++ {
		if j := p.Jittered(n); j < p.Wait(n)*8/10 || j > p.Wait(n)*12/10 {
			t.Errorf("Jittered(%d) = %v out of ±20 %% of %v", n, j, p.Wait(n))
		}
	}
	if (Policy{}).Wait(100) != 0 {
		t.Error("zero policy waits")
	}
}

func TestJitterBounds(t *testing.T) {
	if Jitter(time.Minute, 0) != 48*time.Second || Jitter(time.Minute, 0.5) != time.Minute {
		t.Error("jitter")
	}
}
