package queue

import (
	"math/rand/v2"
	"net/http"
	"testing"
	"time"
)

func TestNextDelayJitterWithinTwentyPercent(t *testing.T) {
	bases := []time.Duration{5 * time.Second, 5 * time.Minute, 10 * time.Hour}
	rng := rand.New(rand.NewPCG(1, 2))
	for _, base := range bases {
		lo, hi := time.Duration(float64(base)*0.8), time.Duration(float64(base)*1.2)
		var sawBelow, sawAbove bool
		samples := append([]float64{0, 0.999999}, make([]float64, 1000)...)
		for i := 2; i < len(samples); i++ {
			samples[i] = rng.Float64()
		}
		for _, r := range samples {
			d := nextDelay(base, 0, r)
			if d < lo || d > hi {
				t.Fatalf("nextDelay(%v, r=%v) = %v, outside [%v, %v]", base, r, d, lo, hi)
			}
			sawBelow = sawBelow || d < base
			sawAbove = sawAbove || d > base
		}
		if !sawBelow || !sawAbove {
			t.Errorf("jitter of %v is one-sided", base)
		}
	}
}

func TestNextDelayHonoursRetryAfter(t *testing.T) {
	tests := []struct {
		base, retryAfter, want time.Duration
	}{
		{10 * time.Millisecond, time.Second, time.Second},
		{time.Minute, time.Second, time.Minute},
	}
	for _, tt := range tests {
		if got := nextDelay(tt.base, tt.retryAfter, 0.5); got != tt.want {
			t.Errorf("nextDelay(%v, %v) = %v, want %v", tt.base, tt.retryAfter, got, tt.want)
		}
	}
}

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2026, 11, 23, 15, 0, 0, 0, time.UTC)
	tests := []struct {
		header string
		want   time.Duration
		ok     bool
	}{
		{"1", time.Second, true},
		{" 120 ", 2 * time.Minute, true},
		{now.Add(30 * time.Second).Format(http.TimeFormat), 30 * time.Second, true},
		{now.Add(-time.Hour).Format(http.TimeFormat), 0, true},
		{"99999999", maxRetryAfter, true},
		{"-5", 0, false},
		{"soon", 0, false},
		{"", 0, false},
	}
	for _, tt := range tests {
		got, ok := parseRetryAfter(tt.header, now)
		if got != tt.want || ok != tt.ok {
			t.Errorf("parseRetryAfter(%q) = %v, %v; want %v, %v", tt.header, got, ok, tt.want, tt.ok)
		}
	}
}
