package queue

import (
	"testing"
	"time"
)

func TestDailyLimit(t *testing.T) {
	dir := t.TempDir()
	q := openQueue(t, dir)
	cfg := testConfig()
	cfg.Paused = true
	cfg.DailyLimit, cfg.DailyLimitSet = 3, true
	q.Configure(cfg, newFakeEndpoints())

	msgFor := func(client, user string) Message {
		m := newMessage("http://127.0.0.1:1/hook")
		m.ClientID, m.UserID = client, user
		return m
	}
	tests := []struct {
		name         string
		client, user string
		n            int
		want         EnqueueResult
	}{
		{"first five of one user: three fit", "42", "7", 5, EnqueueResult{Queued: 3, Limited: 2}},
		{"another user of the same client is unaffected", "42", "8", 2, EnqueueResult{Queued: 2}},
		{"the limited user stays limited", "42", "7", 1, EnqueueResult{Limited: 1}},
	}
	for _, tt := range tests {
		var msgs []Message
		for range tt.n {
			msgs = append(msgs, msgFor(tt.client, tt.user))
		}
		if got := enqueue(t, q, msgs...); got != tt.want {
			t.Errorf("%s: Enqueue = %+v, want %+v", tt.name, got, tt.want)
		}
	}
	limited, err := q.Logs(LogQuery{ClientID: "42", Status: StatusLimited, Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	if len(limited) != 3 {
		t.Fatalf("%d limited log items, want 3", len(limited))
	}
	for _, item := range limited {
		if item.UserID != "7" || item.IsProcessed != "1" || item.Attempts != 0 || item.NextAttempt != "" {
			t.Errorf("limited item = %+v", item)
		}
		if err := q.Retry(item.ID); err != ErrNotRetryable {
			t.Errorf("Retry(limited) = %v, want ErrNotRetryable", err)
		}
	}
	if s := q.Stats(); s.Depth != 5 || s.Limited != 3 {
		t.Errorf("stats = %+v, want depth 5, limited 3", s)
	}

	// The day's count survives a restart.
	if err := q.Close(); err != nil {
		t.Fatal(err)
	}
	q2 := openQueue(t, dir)
	q2.Configure(cfg, newFakeEndpoints())
	if got := enqueue(t, q2, msgFor("42", "7")); got.Limited != 1 {
		t.Errorf("after reopen: %+v, want limited", got)
	}

	// A new UTC day starts a new count.
	tomorrow := cfg
	tomorrow.Now = func() time.Time { return time.Now().Add(24 * time.Hour) }
	q2.Configure(tomorrow, newFakeEndpoints())
	if got := enqueue(t, q2, msgFor("42", "7")); got.Queued != 1 {
		t.Errorf("next day: %+v, want queued", got)
	}
}

func TestDailyLimitZeroMeansNone(t *testing.T) {
	q := openQueue(t, "")
	cfg := testConfig()
	cfg.Paused = true
	cfg.DailyLimit, cfg.DailyLimitSet = 0, true
	q.Configure(cfg, newFakeEndpoints())
	var msgs []Message
	for range 20 {
		msgs = append(msgs, newMessage("http://127.0.0.1:1/"))
	}
	if got := enqueue(t, q, msgs...); got.Queued != 20 {
		t.Errorf("Enqueue = %+v, want 20 queued", got)
	}
}
