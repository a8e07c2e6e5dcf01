package natstest

import (
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sidehook/sidehook/internal/freeport"
)

// readyTimeout bounds how long a node may take to answer its health check: generous, because CI runs the
// suite twice on two cores and a restarted cluster node must first catch up with its peers.
const readyTimeout = 30 * time.Second

// Server is one nats-server process with JetStream on loopback. Its ports and store directory stay the same
// across Kill and Restart, as a real node's would.
type Server struct {
	Name    string
	binary  string
	dir     string // config, store and log of this node
	client  int
	monitor int

	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{} // closed when cmd has exited
}

// Cluster is several Servers routed to each other.
type Cluster struct {
	Nodes []*Server
}

// StartNode starts one JetStream node and waits until it is healthy.
func StartNode(t testing.TB) *Server {
	t.Helper()
	return StartNodeWithConfig(t, "")
}

// StartNodeWithConfig is StartNode with extra lines of server configuration (an authorization block, say).
func StartNodeWithConfig(t testing.TB, extra string) *Server {
	t.Helper()
	s := newServer(t, "n1")
	s.writeConfig(t, extra)
	s.start(t)
	s.WaitReady(t)
	return s
}

// StartCluster starts n JetStream nodes routed to each other and waits until every one is healthy (which
// includes knowing the cluster's meta leader).
func StartCluster(t testing.TB, n int) *Cluster {
	t.Helper()
	c := &Cluster{}
	routes := make([]int, n)
	for i := range n {
		c.Nodes = append(c.Nodes, newServer(t, fmt.Sprintf("n%d", i+1)))
		routes[i] = freeport.Port(t)
	}
	for i, s := range c.Nodes {
		var urls []string
		for j, p := range routes {
			if j != i {
				urls = append(urls, fmt.Sprintf("nats-route://127.0.0.1:%d", p))
			}
		}
		s.writeConfig(t, fmt.Sprintf("cluster {\n  name: sidehook\n  listen: 127.0.0.1:%d\n  routes: [%s]\n}\n",
			routes[i], strings.Join(urls, ", ")))
	}
	for _, s := range c.Nodes {
		s.start(t)
	}
	c.WaitReady(t)
	return c
}

// URLs are the client URLs of every node.
func (c *Cluster) URLs() []string {
	var urls []string
	for _, s := range c.Nodes {
		urls = append(urls, s.URL())
	}
	return urls
}

// WaitReady waits until every running node of the cluster is healthy.
func (c *Cluster) WaitReady(t testing.TB) {
	t.Helper()
	for _, s := range c.Nodes {
		if s.running() {
			s.WaitReady(t)
		}
	}
}

// RestartAll starts every killed node again and waits until the whole cluster is healthy: nodes restarted
// together, since one alone cannot be healthy without a quorum to elect a meta leader with.
func (c *Cluster) RestartAll(t testing.TB) {
	t.Helper()
	for _, s := range c.Nodes {
		if !s.running() {
			s.start(t)
		}
	}
	c.WaitReady(t)
}

func newServer(t testing.TB, name string) *Server {
	t.Helper()
	s := &Server{Name: name, binary: Binary(t), dir: filepath.Join(t.TempDir(), name),
		client: freeport.Port(t), monitor: freeport.Port(t)}
	if err := os.MkdirAll(s.dir, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.kill)
	return s
}

// writeConfig writes the node's configuration, with extra (a cluster block) appended.
func (s *Server) writeConfig(t testing.TB, extra string) {
	t.Helper()
	conf := fmt.Sprintf("server_name: %s\nlisten: 127.0.0.1:%d\nhttp: 127.0.0.1:%d\njetstream {\n  store_dir: %q\n}\n%s",
		s.Name, s.client, s.monitor, filepath.Join(s.dir, "jetstream"), extra)
	if err := os.WriteFile(filepath.Join(s.dir, "nats.conf"), []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
}

// URL is the node's client URL.
func (s *Server) URL() string { return fmt.Sprintf("nats://127.0.0.1:%d", s.client) }

// start runs the process; its output goes to server.log in the node's directory, appended across restarts.
func (s *Server) start(t testing.TB) {
	t.Helper()
	logFile, err := os.OpenFile(filepath.Join(s.dir, "server.log"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(s.binary, "-c", filepath.Join(s.dir, "nats.conf"))
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := cmd.Start(); err != nil {
		_ = logFile.Close()
		t.Fatalf("starting nats-server %s: %v", s.Name, err)
	}
	done := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		_ = logFile.Close()
		close(done)
	}()
	s.mu.Lock()
	s.cmd, s.done = cmd, done
	s.mu.Unlock()
}

func (s *Server) running() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.done == nil {
		return false
	}
	select {
	case <-s.done:
		return false
	default:
		return true
	}
}

// Kill SIGKILLs the node, as a crash would, and waits for the process to be gone.
func (s *Server) Kill(t testing.TB) {
	t.Helper()
	s.kill()
}

func (s *Server) kill() {
	s.mu.Lock()
	cmd, done := s.cmd, s.done
	s.mu.Unlock()
	if cmd == nil {
		return
	}
	_ = cmd.Process.Kill()
	<-done
}

// Restart starts a killed node again on its ports and store directory and waits until it is healthy.
func (s *Server) Restart(t testing.TB) {
	t.Helper()
	if s.running() {
		t.Fatalf("natstest: Restart of %s, which is running", s.Name)
	}
	s.start(t)
	s.WaitReady(t)
}

// WaitReady waits until the node answers /healthz with 200: it is up, JetStream is enabled and, in a cluster,
// it knows the meta leader and its streams are current.
func (s *Server) WaitReady(t testing.TB) {
	t.Helper()
	url := fmt.Sprintf("http://127.0.0.1:%d/healthz", s.monitor)
	client := &http.Client{Timeout: time.Second}
	deadline := time.Now().Add(readyTimeout)
	var last string
	for time.Now().Before(deadline) {
		if !s.running() {
			t.Fatalf("natstest: %s exited while starting; log:\n%s", s.Name, s.logTail())
		}
		resp, err := client.Get(url)
		if err == nil {
			_ = resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
			last = resp.Status
		} else {
			last = err.Error()
		}
		<-time.After(20 * time.Millisecond) // the pace of the readiness poll, not a wait for an outcome
	}
	t.Fatalf("natstest: %s not healthy after %v (last answer: %s); log:\n%s", s.Name, readyTimeout, last, s.logTail())
}

// logTail is the end of the node's log, to show why it did not become ready.
func (s *Server) logTail() string {
	b, _ := os.ReadFile(filepath.Join(s.dir, "server.log"))
	if len(b) > 4000 {
		b = b[len(b)-4000:]
	}
	return string(b)
}
