package natskv

import (
	"bytes"
	"context"
	"errors"
	"io/fs"
	"reflect"
	"testing"
	"time"

	"github.com/caddyserver/certmagic"

	"github.com/sidehook/sidehook/internal/natstest"
)

// The storage answers as certmagic expects, and as certmagic.FileStorage answers the same calls: the same
// operations run on both, and every answer is compared.
func TestConformance(t *testing.T) {
	node := natstest.StartNode(t)
	kv, _ := openTest(t, []string{node.URL()}, 1, 0)
	file := &certmagic.FileStorage{Path: t.TempDir()}
	ctx := context.Background()

	t.Run("missing keys", func(t *testing.T) {
		for name, s := range map[string]certmagic.Storage{"kv": kv, "file": file} {
			if _, err := s.Load(ctx, "nope/x.json"); !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("%s Load: %v, want fs.ErrNotExist", name, err)
			}
			if _, err := s.Stat(ctx, "nope/x.json"); !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("%s Stat: %v, want fs.ErrNotExist", name, err)
			}
			if s.Exists(ctx, "nope/x.json") {
				t.Errorf("%s Exists: true", name)
			}
			if _, err := s.List(ctx, "nope", true); !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("%s List: %v, want fs.ErrNotExist", name, err)
			}
			if err := s.Delete(ctx, "nope/x.json"); err != nil {
				t.Errorf("%s Delete of a missing key: %v", name, err)
			}
		}
	})

	t.Run("store load stat", func(t *testing.T) {
		before := time.Now().Add(-time.Second)
		value := []byte("hello \x00 world")
		if err := kv.Store(ctx, "one/two.json", value); err != nil {
			t.Fatal(err)
		}
		got, err := kv.Load(ctx, "one/two.json")
		if err != nil || !bytes.Equal(got, value) {
			t.Fatalf("Load = %q, %v", got, err)
		}
		if err := kv.Store(ctx, "one/two.json", []byte("v2")); err != nil {
			t.Fatal(err)
		}
		if got, _ := kv.Load(ctx, "one/two.json"); string(got) != "v2" {
			t.Fatalf("after overwrite Load = %q", got)
		}
		info, err := kv.Stat(ctx, "one/two.json")
		if err != nil || info.Key != "one/two.json" || info.Size != 2 || !info.IsTerminal || info.Modified.Before(before) {
			t.Fatalf("Stat = %+v, %v", info, err)
		}
		dir, err := kv.Stat(ctx, "one")
		if err != nil || dir.IsTerminal {
			t.Fatalf("Stat(dir) = %+v, %v", dir, err)
		}
		if !kv.Exists(ctx, "one/two.json") || !kv.Exists(ctx, "one") {
			t.Fatal("Exists: false for a key or its directory")
		}
		if err := kv.Delete(ctx, "one/two.json"); err != nil {
			t.Fatal(err)
		}
		if _, err := kv.Load(ctx, "one/two.json"); !errors.Is(err, fs.ErrNotExist) {
			t.Fatalf("Load after Delete: %v", err)
		}
		if kv.Exists(ctx, "one") {
			t.Fatal("a directory outlived its last key")
		}
	})

	t.Run("same answers as FileStorage", func(t *testing.T) {
		keys := []string{"acme/a.example/cert.pem", "acme/a.example/key.pem", "acme/b.example/cert.pem",
			"acme/readme", "acme-other/x", "sidehook/subscriptions/0123.json", "sidehook/subscriptions.version",
			"sidehook/static-disabled/s1", "top.json", "odd chars/*.wild=card"}
		for _, k := range keys {
			for _, s := range []certmagic.Storage{kv, file} {
				if err := s.Store(ctx, k, []byte(k)); err != nil {
					t.Fatal(err)
				}
			}
		}
		same := func(what string) {
			t.Helper()
			for _, prefix := range []string{"", "acme", "acme/", "acme/a.example", "sidehook", "sidehook/subscriptions",
				"sidehook/static-disabled", "top.json", "odd chars", "missing"} {
				for _, recursive := range []bool{false, true} {
					got, gotErr := kv.List(ctx, prefix, recursive)
					want, wantErr := file.List(ctx, prefix, recursive)
					if !reflect.DeepEqual(got, want) || errors.Is(gotErr, fs.ErrNotExist) != errors.Is(wantErr, fs.ErrNotExist) ||
						(gotErr == nil) != (wantErr == nil) {
						t.Errorf("%s: List(%q, %v) = %q, %v; FileStorage: %q, %v", what, prefix, recursive, got, gotErr, want, wantErr)
					}
				}
			}
			for _, k := range append(keys, "acme", "acme/a.example", "missing", "acme/a") {
				if got, want := kv.Exists(ctx, k), file.Exists(ctx, k); got != want {
					t.Errorf("%s: Exists(%q) = %v; FileStorage: %v", what, k, got, want)
				}
				gotInfo, gotErr := kv.Stat(ctx, k)
				wantInfo, wantErr := file.Stat(ctx, k)
				if (gotErr == nil) != (wantErr == nil) || gotInfo.IsTerminal != wantInfo.IsTerminal ||
					(gotInfo.IsTerminal && gotInfo.Size != wantInfo.Size) {
					t.Errorf("%s: Stat(%q) = %+v, %v; FileStorage: %+v, %v", what, k, gotInfo, gotErr, wantInfo, wantErr)
				}
				gotV, gotErr := kv.Load(ctx, k)
				wantV, wantErr := file.Load(ctx, k)
				if wantErr == nil && (gotErr != nil || !bytes.Equal(gotV, wantV)) || errors.Is(wantErr, fs.ErrNotExist) && !errors.Is(gotErr, fs.ErrNotExist) {
					t.Errorf("%s: Load(%q) = %q, %v; FileStorage: %q, %v", what, k, gotV, gotErr, wantV, wantErr)
				}
			}
		}
		same("after storing")
		// Deleting a directory deletes what is under it, on both.
		for _, s := range []certmagic.Storage{kv, file} {
			if err := s.Delete(ctx, "acme/a.example"); err != nil {
				t.Fatal(err)
			}
			if err := s.Delete(ctx, "sidehook/subscriptions/0123.json"); err != nil {
				t.Fatal(err)
			}
		}
		if err := file.Delete(ctx, "sidehook/subscriptions"); err != nil { // FileStorage keeps the emptied directory
			t.Fatal(err)
		}
		same("after deleting")
	})
}

// A watch signals its start (once the key's state is read), then every write and delete of its key made
// through another connection, and nothing for other keys; it closes when its context ends.
func TestWatchSignalsChanges(t *testing.T) {
	node := natstest.StartNode(t)
	a, _ := openTest(t, []string{node.URL()}, 1, 0)
	b, _ := openTest(t, []string{node.URL()}, 1, 0)
	ctx := context.Background()
	ch, err := b.Watch(ctx, "p/version")
	if err != nil {
		t.Fatal(err)
	}
	signalled(t, ch, time.Second, "start")
	if err := a.Store(ctx, "p/other", []byte("x")); err != nil {
		t.Fatal(err)
	}
	if err := a.Store(ctx, "p/version", []byte("1")); err != nil {
		t.Fatal(err)
	}
	signalled(t, ch, time.Second, "store")
	select {
	case <-ch:
		t.Fatal("a second signal for one change to the key (the other key's change leaked in?)")
	default:
	}
	if err := a.Delete(ctx, "p/version"); err != nil {
		t.Fatal(err)
	}
	signalled(t, ch, time.Second, "delete")

	wctx, cancel := context.WithCancel(ctx)
	ch2, err := b.Watch(wctx, "p/version")
	if err != nil {
		t.Fatal(err)
	}
	cancel()
	waitFor(t, time.Second, "closed after its context ended", func() bool {
		select {
		case _, ok := <-ch2:
			return !ok
		default:
			return false
		}
	})
}

// A watch outlives its server's restart: it starts again when the connection is back (and says so), and
// signals the changes made from then on.
func TestWatchResumesAfterServerRestart(t *testing.T) {
	node := natstest.StartNode(t)
	s, logs := openTest(t, []string{node.URL()}, 1, 0)
	ctx := context.Background()
	ch, err := s.Watch(ctx, "k")
	if err != nil {
		t.Fatal(err)
	}
	signalled(t, ch, time.Second, "start")

	node.Kill(t)
	waitFor(t, 10*time.Second, "the loss logged", func() bool { return logged(logs, "NATS connection lost") })
	node.Restart(t)
	signalled(t, ch, 15*time.Second, "the watch's restart")
	if err := s.Store(ctx, "k", []byte("after")); err != nil {
		t.Fatal(err)
	}
	waitFor(t, time.Second, "the change after the restart", func() bool {
		select {
		case <-ch:
			v, err := s.Load(ctx, "k")
			return err == nil && string(v) == "after"
		default:
			return false
		}
	})
}
