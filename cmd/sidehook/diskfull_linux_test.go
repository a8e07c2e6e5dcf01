package main

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// diskFullTmpfsSize is the test's filesystem: room for a new queue's sparse
// value log and WAL (about 65 MiB) and the disk gate's enqueue reserve
// (141.5 MiB with the queue's options), with margin.
const diskFullTmpfsSize = 320 << 20

// mountTmpfs mounts a tmpfs of size bytes on a new directory and unmounts it
// at the end of the test (after the process using it, registered later, was
// killed).
func mountTmpfs(t *testing.T, parent string, size int64) string {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("mounts a small tmpfs to fill it: needs root (CI runs as root)")
	}
	dir := filepath.Join(parent, "disk")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := unix.Mount("tmpfs", dir, "tmpfs", 0, fmt.Sprintf("size=%d", size)); err != nil {
		t.Skipf("cannot mount a tmpfs (%v): this test needs root and a kernel that allows it", err)
	}
	t.Cleanup(func() {
		if err := unix.Unmount(dir, unix.MNT_DETACH); err != nil {
			t.Errorf("unmount %s: %v", dir, err)
		}
	})
	return dir
}

// freeBytes is what an unprivileged writer may still take on dir's filesystem.
func freeBytes(t *testing.T, dir string) int64 {
	t.Helper()
	var fs unix.Statfs_t
	if err := unix.Statfs(dir, &fs); err != nil {
		t.Fatal(err)
	}
	return int64(fs.Bavail) * int64(fs.Bsize)
}

// growFiller makes the file at path take n more bytes of real blocks.
func growFiller(t *testing.T, path string, n int64) {
	t.Helper()
	if n <= 0 {
		return
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		t.Fatal(err)
	}
	if err := unix.Fallocate(int(f.Fd()), 0, st.Size(), n); err != nil {
		t.Fatalf("fallocate %d bytes: %v", n, err)
	}
}

// bigEcho is an `echo` call for key whose result (its params) is about 200 KB of incompressible text.
func bigEcho(key string) []byte {
	raw := make([]byte, 150_000)
	_, _ = rand.Read(raw)
	return fmt.Appendf(nil, `{"jsonrpc":"2.0","method":"echo","params":[%q,%q],"id":7}`, key, base64.StdEncoding.EncodeToString(raw))
}

// post sends body to addr and returns the status line and body the client got.
func post(addr string, body []byte) (string, []byte, error) {
	resp, err := client.Post("http://"+addr+"/", "application/json", bytes.NewReader(body))
	if err != nil {
		return "", nil, err
	}
	defer resp.Body.Close()
	got, err := io.ReadAll(resp.Body)
	return resp.Status, got, err
}

// callAsUpstream makes call key through sidehook and the same call straight to the upstream, and fails the
// test unless the client got exactly what the upstream answers.
func (w *hookWorld) callAsUpstream(p *process, key string) {
	w.t.Helper()
	body := bigEcho(key)
	status, got, err := post(w.site, body)
	if err != nil {
		// A connection cut short may be the process dying: give it a moment to be gone.
		select {
		case <-p.done:
			w.t.Fatalf("call %s: %v; sidehook died:\n%s", key, err, crashReport(p.output.String()))
		case <-time.After(5 * time.Second):
		}
		w.t.Fatalf("call %s: %v", key, err)
	}
	wantStatus, want, err := post(w.api, body)
	if err != nil {
		w.t.Fatal(err)
	}
	if status != wantStatus || !bytes.Equal(got, want) {
		w.t.Fatalf("call %s: the client got %s (%d bytes), the upstream answers %s (%d bytes)", key, status, len(got), wantStatus, len(want))
	}
}

// crashReport is the part of a dead process's output that says why: from a Go fatal error or panic on
// (its goroutine dumps cut short), else the end.
func crashReport(out string) string {
	for _, mark := range []string{"fatal error:", "panic:"} {
		if i := strings.Index(out, mark); i >= 0 {
			return out[i:min(len(out), i+2500)] + "…"
		}
	}
	return out[max(0, len(out)-2500):]
}

// diskView is the disk gate's part of /sidehook/stats, read here by its JSON names.
type diskView struct {
	Available      int64 `json:"available"`
	EnqueueReserve int64 `json:"enqueue_reserve"`
	Floor          int64 `json:"floor"`
}

// disk reads the disk gate's view of the one queue; ok is false when the stats have none.
func (w *hookWorld) disk() (v diskView, ok bool) {
	resp, err := client.Get("http://" + w.admin + "/sidehook/stats")
	if err != nil {
		return v, false
	}
	defer resp.Body.Close()
	var stats struct {
		Queues []struct {
			Disk *diskView `json:"disk"`
		} `json:"queues"`
	}
	if json.NewDecoder(resp.Body).Decode(&stats) != nil || len(stats.Queues) != 1 || stats.Queues[0].Disk == nil {
		return v, false
	}
	return *stats.Queues[0].Disk, true
}

// The reliability issue's disk-full item: queue_dir on a small tmpfs, calls with ~200 KB results. Badger
// writes through mappings of sparse files, so a full filesystem used to kill the whole process with SIGBUS.
// Now: while space is short the calls pass exactly as without sidehook and their events are counted as
// dropped; events queued before are still delivered; with no space at all the process stays up; once space
// returns, firing resumes by itself.
func TestDiskFullNeverTakesCaddyDown(t *testing.T) {
	w := newHookWorld(t)
	disk := mountTmpfs(t, w.home, diskFullTmpfsSize)
	queueDir := filepath.Join(disk, "queue")
	filler := filepath.Join(disk, "filler")
	caddyfile := strings.Replace(w.caddyfile(""), w.queueDir(), queueDir, 1)
	p := startCaddy(t, w.home, caddyfile, w.site)

	// 1. The receiver holds its answers: 20 events are queued and stay so.
	w.recv.setHang()
	var before []string
	for i := range 20 {
		key := eventKey(i)
		w.callAsUpstream(p, key)
		before = append(before, key)
	}
	waitFor(t, 10*time.Second, func() bool { s, ok := w.stats(); return ok && s.Depth+s.InFlight == 20 }, "20 events queued")

	// 2. Fill the disk so that the gate's measure of space lies between its two reserves: too little for new
	// events, enough for the delivery of those queued.
	if d, ok := w.disk(); !ok {
		t.Errorf("/sidehook/stats has no disk view")
	} else {
		growFiller(t, filler, d.Available-(d.Floor+d.EnqueueReserve)/2)
		waitFor(t, 5*time.Second, func() bool {
			d, ok := w.disk()
			return ok && d.Available < d.EnqueueReserve && d.Available >= d.Floor
		}, "the disk gate to see the space between its reserves")
	}
	for i := 20; i < 40; i++ {
		w.callAsUpstream(p, eventKey(i))
	}
	if got := w.dropped("disk_full"); got != 20 {
		t.Errorf("events_dropped_total{reason=disk_full} = %d after 20 calls on a short disk, want 20", got)
	}
	w.recv.release()
	w.waitAccepted(before, 30*time.Second)

	// 3. No space at all (8 MiB left, a few dozen calls' worth): still every call is answered as by the
	// upstream, and the process lives.
	growFiller(t, filler, freeBytes(t, disk)-8<<20)
	for i := 40; i < 100; i++ {
		w.callAsUpstream(p, eventKey(i))
	}
	select {
	case <-p.done:
		t.Fatalf("sidehook died:\n%s", crashReport(p.output.String()))
	default:
	}
	if got := w.dropped("disk_full"); got != 80 {
		t.Errorf("events_dropped_total{reason=disk_full} = %d after 80 calls on a short disk, want 80", got)
	}
	if distinct, _, _, _ := w.recv.counts(); distinct != len(before) {
		t.Errorf("the receiver got %d distinct events, want the %d queued before the disk filled", distinct, len(before))
	}

	// 4. Space returns: firing resumes by itself.
	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 5*time.Second, func() bool { d, ok := w.disk(); return ok && d.Available >= d.EnqueueReserve },
		"the disk gate to see the space again")
	var after []string
	for i := 100; i < 105; i++ {
		w.callAsUpstream(p, eventKey(i))
		after = append(after, eventKey(i))
	}
	w.waitAccepted(after, 30*time.Second)
	if got := w.dropped("disk_full"); got != 80 {
		t.Errorf("events_dropped_total{reason=disk_full} = %d once space returned, want still 80", got)
	}
}
