// Package natstest runs real nats-server processes with JetStream for tests: one node, or a cluster of
// several on loopback, each with its own store directory under the test's temporary directory. The server is
// built from the nats-server module this repository pins in go.mod (a tool dependency, never linked into
// sidehook), once per version, into os.UserCacheDir()/sidehook-test, so test binaries of several packages
// share one build; a file lock keeps concurrent test binaries from building it at once.
//
// Everything waits for readiness by condition (the monitoring port's /healthz) with a deadline, never by a
// fixed sleep, and every process is SIGKILLed at the test's cleanup.
package natstest

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
)

// serverModule is the module the server binary is built from; go.mod pins its version.
const serverModule = "github.com/nats-io/nats-server/v2"

var built struct {
	once sync.Once
	path string
	err  error
}

// Binary returns the path of a nats-server binary of the version go.mod pins, building it the first time.
func Binary(t testing.TB) string {
	t.Helper()
	built.once.Do(func() { built.path, built.err = build() })
	if built.err != nil {
		t.Fatalf("natstest: building nats-server: %v", built.err)
	}
	return built.path
}

// build asks the go command for the pinned version, and builds that version unless a binary of it is cached.
// The lock is held from the check to the rename so that a second test binary waits for the first's build
// instead of starting its own, and never sees a half-written file.
func build() (string, error) {
	version, err := goOutput("list", "-m", "-f", "{{.Version}}", serverModule)
	if err != nil {
		return "", fmt.Errorf("reading the pinned version: %w", err)
	}
	cache, err := os.UserCacheDir()
	if err != nil {
		return "", err
	}
	dir := filepath.Join(cache, "sidehook-test")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	unlock, err := lockFile(filepath.Join(dir, "nats-server.lock"))
	if err != nil {
		return "", err
	}
	defer unlock()
	path := filepath.Join(dir, "nats-server-"+version)
	if _, err := os.Stat(path); err == nil {
		return path, nil
	}
	tmp := path + ".building"
	if _, err := goOutput("build", "-o", tmp, serverModule); err != nil {
		return "", err
	}
	return path, os.Rename(tmp, path)
}

// goOutput runs the go command in the test's package directory (inside this module, so the pinned versions
// apply) and returns its trimmed standard output.
func goOutput(args ...string) (string, error) {
	goTool, err := exec.LookPath("go")
	if err != nil {
		return "", fmt.Errorf("the go command is needed to build nats-server: %w", err)
	}
	cmd := exec.Command(goTool, args...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("go %s: %w\n%s", strings.Join(args, " "), err, stderr.String())
	}
	return strings.TrimSpace(string(out)), nil
}

// lockFile takes an exclusive advisory lock on path, waiting for another process's, and returns its release.
func lockFile(path string) (func(), error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		_ = f.Close()
		return nil, fmt.Errorf("locking %s: %w", path, err)
	}
	return func() {
		_ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		_ = f.Close()
	}, nil
}
