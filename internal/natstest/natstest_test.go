package natstest

import (
	"net"
	"testing"
	"time"
)

// A single node comes up healthy and accepts client connections; Kill ends it and Restart brings it back on
// the same port.
func TestNodeKillAndRestart(t *testing.T) {
	s := StartNode(t)
	dial(t, s, true)
	s.Kill(t)
	dial(t, s, false)
	s.Restart(t)
	dial(t, s, true)
}

// A three-node cluster becomes healthy, and survives one node's kill and restart.
func TestClusterOfThree(t *testing.T) {
	c := StartCluster(t, 3)
	if len(c.URLs()) != 3 {
		t.Fatalf("URLs = %v", c.URLs())
	}
	c.Nodes[1].Kill(t)
	c.Nodes[1].Restart(t)
	c.WaitReady(t)
	for _, s := range c.Nodes {
		s.Kill(t)
		dial(t, s, false)
	}
	c.RestartAll(t)
	for _, s := range c.Nodes {
		dial(t, s, true)
	}
}

func dial(t *testing.T, s *Server, want bool) {
	t.Helper()
	conn, err := net.DialTimeout("tcp", s.URL()[len("nats://"):], time.Second)
	if err == nil {
		_ = conn.Close()
	}
	if (err == nil) != want {
		t.Fatalf("dial %s: %v, want reachable %v", s.Name, err, want)
	}
}
