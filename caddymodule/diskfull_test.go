package caddymodule

import (
	"sync/atomic"
	"testing"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"
)

func TestDiskFullWarningAtMostOncePerMinute(t *testing.T) {
	core, logs := observer.New(zapcore.WarnLevel)
	logger := zap.New(core)
	dir := t.TempDir()
	for range 5 {
		warnDiskFull(logger, dir, 1)
	}
	if n := logs.Len(); n != 1 {
		t.Fatalf("5 drops within a minute logged %d warnings, want 1", n)
	}
	other := t.TempDir()
	warnDiskFull(logger, other, 1)
	if n := logs.Len(); n != 2 {
		t.Fatalf("a drop for another queue_dir logged %d warnings in all, want 2", n)
	}
	// A minute later (the last warning moved back by diskFullWarnEvery).
	v, _ := diskFullWarned.Load(dir)
	v.(*atomic.Int64).Add(-int64(diskFullWarnEvery))
	warnDiskFull(logger, dir, 1)
	if n := logs.Len(); n != 3 {
		t.Fatalf("a drop a minute after the last warning logged %d warnings in all, want 3", n)
	}
	if got := logs.All()[0].ContextMap()["queue_dir"]; got != dir {
		t.Errorf("warning names queue_dir %v, want %s", got, dir)
	}
}
