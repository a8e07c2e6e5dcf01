package queue

import (
	"crypto/rand"
	"encoding/base64"
	"io/fs"
	"path/filepath"
	"testing"
	"time"
)

// dirSize is the total size of the files under dir.
func dirSize(t *testing.T, dir string) int64 {
	t.Helper()
	var total int64
	err := filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		total += info.Size()
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return total
}

// body2K is a 2 KiB JSON body of random (barely compressible) text.
func body2K() []byte {
	raw := make([]byte, 1500)
	_, _ = rand.Read(raw)
	return []byte(`{"event":"CandidateService.update","data":"` + base64.StdEncoding.EncodeToString(raw)[:2000] + `"}`)
}

func TestDiskUsageQueuedAndDelivered(t *testing.T) {
	if testing.Short() {
		t.Skip("writes a few MiB")
	}
	const events = 3000
	dir := t.TempDir()
	rc := newReceiver(t, statuses(200))
	q, err := Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	cfg := testConfig()
	cfg.Paused = true
	cfg.Workers, cfg.PerDestination = 16, 16
	q.Configure(cfg, newFakeEndpoints())
	var ids []string
	for range events / 100 {
		var batch []Message
		for range 100 {
			m := newMessage(rc.srv.URL)
			m.Body = body2K()
			batch = append(batch, m)
			ids = append(ids, m.ID)
		}
		enqueue(t, q, batch...)
	}
	q.CollectGarbage()
	if err := q.Close(); err != nil {
		t.Fatal(err)
	}
	queued := dirSize(t, dir)
	t.Logf("%d queued 2 KiB events: %d bytes on disk, %.0f bytes per event", events, queued, float64(queued)/events)

	q = openQueue(t, dir)
	cfg.Paused = false
	q.Configure(cfg, newFakeEndpoints())
	waitFor(t, 30*time.Second, func() bool { return q.Stats().Delivered == events })
	if s := q.Stats(); s.Depth != 0 {
		t.Errorf("depth after delivery = %d", s.Depth)
	}
	q.CollectGarbage()
	if err := q.Close(); err != nil {
		t.Fatal(err)
	}
	delivered := dirSize(t, dir)
	t.Logf("after delivery (logs with bodies kept for KeepLogs): %d bytes, %.0f bytes per event", delivered, float64(delivered)/events)
	if perEvent := float64(queued) / events; perEvent > 8<<10 {
		t.Errorf("%.0f bytes per queued event", perEvent)
	}
}
