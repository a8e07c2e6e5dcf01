package queue

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

func TestReopenDeliversEverythingQueuedWhilePaused(t *testing.T) {
	dir := t.TempDir()
	rc := newReceiver(t, statuses(200))
	q, err := Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	cfg := testConfig()
	cfg.Paused = true
	q.Configure(cfg, newFakeEndpoints())
	want := map[string]bool{}
	var msgs []Message
	for range 50 {
		m := newMessage(rc.srv.URL)
		want[m.ID] = true
		msgs = append(msgs, m)
	}
	enqueue(t, q, msgs...)
	if err := q.Close(); err != nil {
		t.Fatal(err)
	}

	q2 := openQueue(t, dir)
	if s := q2.Stats(); s.Depth != 50 {
		t.Errorf("depth after reopen = %d, want 50", s.Depth)
	}
	q2.Configure(testConfig(), newFakeEndpoints())
	waitFor(t, 10*time.Second, func() bool { return rc.count() >= 50 })
	got := map[string]bool{}
	for _, r := range rc.requests() {
		got[r.header.Get("webhook-id")] = true
	}
	if len(got) != 50 {
		t.Fatalf("delivered %d distinct ids, want 50", len(got))
	}
	for id := range want {
		if !got[id] {
			t.Errorf("%s not delivered", id)
		}
	}
}

// crashChildEnv makes the test binary act as the process that gets killed.
const crashChildEnv = "SIDEHOOK_QUEUE_CRASH_CHILD"

// TestCrashChild is not a test on its own: run by TestKillDuringAttempt, it
// enqueues one message, prints its id once the commit returned, and keeps
// attempting it against a receiver that never answers until it is killed.
func TestCrashChild(t *testing.T) {
	spec := os.Getenv(crashChildEnv)
	if spec == "" {
		t.Skip("helper process for TestKillDuringAttempt")
	}
	dir, url, _ := strings.Cut(spec, "|")
	q, err := Open(dir, nil)
	if err != nil {
		fmt.Println("ERROR", err)
		os.Exit(2)
	}
	cfg := testConfig()
	cfg.Timeout = time.Minute
	q.Configure(cfg, newFakeEndpoints())
	msg := newMessage(url)
	if _, err := q.Enqueue(context.Background(), []Message{msg}); err != nil {
		fmt.Println("ERROR", err)
		os.Exit(2)
	}
	fmt.Println("ENQUEUED", msg.ID)
	select {} // killed by the parent
}

func TestKillDuringAttempt(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a child process")
	}
	dir := t.TempDir()
	arrived := make(chan string, 4)
	rc := newReceiver(t, func(_ int, w http.ResponseWriter, r *http.Request) {
		arrived <- r.Header.Get("webhook-id")
		<-r.Context().Done() // hang until the child dies
	})

	child := exec.Command(os.Args[0], "-test.run=^TestCrashChild$", "-test.count=1")
	child.Env = append(os.Environ(), crashChildEnv+"="+dir+"|"+rc.srv.URL+"/hook")
	stdout, err := child.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := child.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = child.Process.Kill(); _ = child.Wait() })
	id := readEnqueuedID(t, stdout)

	select {
	case got := <-arrived:
		if got != id {
			t.Fatalf("attempt carried %s, want %s", got, id)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("child never attempted the delivery")
	}
	// SIGKILL while the attempt is claimed and in flight.
	if err := child.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = child.Wait()

	rc.setRespond(statuses(200))
	q := openQueue(t, dir)
	q.Configure(testConfig(), newFakeEndpoints())
	waitFor(t, 10*time.Second, statusIs(t, q, id, StatusDelivered))
	reqs := rc.requests()
	if len(reqs) < 2 || reqs[len(reqs)-1].header.Get("webhook-id") != id {
		t.Fatalf("redelivery after the crash did not carry webhook-id %s", id)
	}
}

// readEnqueuedID reads the child's stdout until it reports the enqueued id.
func readEnqueuedID(t *testing.T, r io.Reader) string {
	t.Helper()
	lines := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(r)
		for sc.Scan() {
			if id, ok := strings.CutPrefix(sc.Text(), "ENQUEUED "); ok {
				lines <- id
				return
			}
		}
		close(lines)
	}()
	select {
	case id, ok := <-lines:
		if !ok {
			t.Fatal("child exited without enqueuing")
		}
		return id
	case <-time.After(30 * time.Second):
		t.Fatal("child did not enqueue in time")
	}
	return ""
}
