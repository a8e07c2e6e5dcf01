// Package freeport hands tests loopback TCP ports to configure servers with. A port the kernel reports free
// can come back from the next ask as soon as its probe listener is closed, and two sites on one port make
// Caddy refuse the config ("ambiguous site definition"), so a port is never handed out twice in a process.
package freeport

import (
	"net"
	"strconv"
	"sync"
	"testing"
)

var (
	mu     sync.Mutex
	handed = map[int]bool{}
)

// Port returns a loopback port that was free when asked and that no earlier call in this process returned.
func Port(t testing.TB) int {
	t.Helper()
	mu.Lock()
	defer mu.Unlock()
	for range 1000 { // bounded: the kernel has tens of thousands of ephemeral ports to give
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		port := ln.Addr().(*net.TCPAddr).Port
		_ = ln.Close()
		if !handed[port] {
			handed[port] = true
			return port
		}
	}
	t.Fatal("freeport: no port that was not handed out already")
	return 0
}

// Addr is Port as "127.0.0.1:<port>".
func Addr(t testing.TB) string {
	t.Helper()
	return "127.0.0.1:" + strconv.Itoa(Port(t))
}
