package main

import (
	"os"
	"strconv"
	"strings"
)

// cpuTicks reads the machine's CPU time from the first line of /proc/stat, in clock ticks: all of it, and the
// part stolen (time the hypervisor ran other guests while this one had work). On a shared virtual machine a
// stolen share of tens of percent slows everything by as much, and absolute latencies with it; the paired
// ratios largely cancel it, but a report should say it happened.
func cpuTicks() (steal, total uint64, ok bool) {
	raw, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, 0, false
	}
	line, _, _ := strings.Cut(string(raw), "\n")
	f := strings.Fields(line)
	if len(f) < 9 || f[0] != "cpu" {
		return 0, 0, false
	}
	for i, s := range f[1:] {
		v, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			return 0, 0, false
		}
		if i >= 8 { // guest and guest_nice are already counted in user and nice
			break
		}
		total += v
		if i == 7 {
			steal = v
		}
	}
	return steal, total, true
}

// stealMeter measures the stolen share of the machine's CPU time between start and share.
type stealMeter struct {
	steal, total uint64
	ok           bool
}

func startSteal() stealMeter {
	s, t, ok := cpuTicks()
	return stealMeter{steal: s, total: t, ok: ok}
}

// share is the stolen fraction since start, or -1 when /proc/stat could not be read.
func (m stealMeter) share() float64 {
	s, t, ok := cpuTicks()
	if !ok || !m.ok || t <= m.total {
		return -1
	}
	return float64(s-m.steal) / float64(t-m.total)
}
