//go:build !race

package caddymodule

// raceEnabled: see race_on_test.go.
const raceEnabled = false
