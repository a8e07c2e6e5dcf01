package main

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/sidehook/sidehook/internal/freeport"
)

// sidehookBin is the binary built from this package once for all tests here: crash safety is only real when
// the real process is killed.
var sidehookBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "sidehook-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	sidehookBin = filepath.Join(dir, "sidehook")
	build := exec.Command("go", "build", "-o", sidehookBin, ".")
	build.Stdout, build.Stderr = os.Stdout, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "building the sidehook binary:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// process is a running sidehook binary.
type process struct {
	t      *testing.T
	cmd    *exec.Cmd
	output *syncBuffer
	done   chan struct{}
}

// syncBuffer collects a process's output safely for reading while it runs.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// runSidehook starts `sidehook <args…>` with HOME and XDG dirs inside home, so nothing outside the test's
// directories is touched.
func runSidehook(t *testing.T, home string, args ...string) *process {
	t.Helper()
	return runSidehookEnv(t, home, nil, args...)
}

// runSidehookEnv is runSidehook with extra environment variables ("NAME=value").
func runSidehookEnv(t *testing.T, home string, env []string, args ...string) *process {
	t.Helper()
	cmd := exec.Command(sidehookBin, args...)
	cmd.Env = append(os.Environ(), "HOME="+home, "XDG_DATA_HOME="+filepath.Join(home, "data"), "XDG_CONFIG_HOME="+filepath.Join(home, "config"))
	cmd.Env = append(cmd.Env, env...)
	p := &process{t: t, cmd: cmd, output: &syncBuffer{}, done: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = p.output, p.output
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting sidehook: %v", err)
	}
	go func() { _ = cmd.Wait(); close(p.done) }()
	t.Cleanup(func() { p.kill() })
	return p
}

// startCaddy runs `sidehook run` on the Caddyfile and waits until addr accepts connections.
func startCaddy(t *testing.T, home, caddyfile, addr string) *process {
	t.Helper()
	path := filepath.Join(home, "Caddyfile")
	if err := os.WriteFile(path, []byte(caddyfile), 0o600); err != nil {
		t.Fatal(err)
	}
	p := runSidehook(t, home, "run", "--config", path, "--adapter", "caddyfile")
	deadline := time.Now().Add(30 * time.Second)
	for {
		if c, err := net.DialTimeout("tcp", addr, 100*time.Millisecond); err == nil {
			c.Close()
			return p
		}
		select {
		case <-p.done:
			t.Fatalf("sidehook exited early:\n%s", p.output.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("sidehook did not listen on %s within 30s:\n%s", addr, p.output.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// kill sends SIGKILL and waits for the process to be gone.
func (p *process) kill() {
	if p.cmd.Process == nil {
		return
	}
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
	select {
	case <-p.done:
	case <-time.After(10 * time.Second):
		p.t.Errorf("sidehook did not die after SIGKILL")
	}
}

// exitCode waits for the process to end by itself.
func (p *process) exitCode(within time.Duration) int {
	p.t.Helper()
	select {
	case <-p.done:
		return p.cmd.ProcessState.ExitCode()
	case <-time.After(within):
		p.t.Fatalf("sidehook still running after %s:\n%s", within, p.output.String())
		return -1
	}
}

// testGlobals is the global options block of the tests' Caddyfiles: Caddy's admin endpoint on admin, its
// storage in storage, no autosaved config, no trust store install, only errors logged.
func testGlobals(admin, storage string) string {
	return fmt.Sprintf(`{
	admin %s
	persist_config off
	skip_install_trust
	storage file_system %s
	log {
		level ERROR
	}
}
`, admin, storage)
}

// freeAddr is a loopback address for a listener of the test; never the same twice (freeport).
func freeAddr(t *testing.T) string { return freeport.Addr(t) }

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t *testing.T, within time.Duration, cond func() bool, what string) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", within, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
