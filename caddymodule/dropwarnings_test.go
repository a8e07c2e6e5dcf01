package caddymodule

import (
	"errors"
	"testing"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"
)

func TestDropWarningAtMostOncePerMinutePerQueueAndReason(t *testing.T) {
	core, logs := observer.New(zapcore.WarnLevel)
	logger := zap.New(core)
	dir := t.TempDir()
	for range 5 {
		warnDropped(logger, dir, dropDiskFull, 1, nil)
	}
	if n := logs.Len(); n != 1 {
		t.Fatalf("5 drops within a minute logged %d warnings, want 1", n)
	}
	other := t.TempDir()
	warnDropped(logger, other, dropDiskFull, 1, nil)
	if n := logs.Len(); n != 2 {
		t.Fatalf("a drop for another queue_dir logged %d warnings in all, want 2", n)
	}
	failure := errors.New("the store refused the write")
	warnDropped(logger, dir, dropStoreFailed, 3, failure)
	if n := logs.Len(); n != 3 {
		t.Fatalf("a drop of another reason logged %d warnings in all, want 3", n)
	}
	// A minute later (the last warning moved back by dropWarnEvery), the next warning counts what the quiet
	// minute dropped.
	warnDropped(logger, dir, dropDiskFull, 2, nil)
	v, _ := dropWarnings.Load(dropKey{dir, dropDiskFull})
	v.(*dropWarning).last.Add(-int64(dropWarnEvery))
	warnDropped(logger, dir, dropDiskFull, 1, nil)
	if n := logs.Len(); n != 4 {
		t.Fatalf("a drop a minute after the last warning logged %d warnings in all, want 4", n)
	}
	all := logs.All()
	if got := all[0].ContextMap()["queue_dir"]; got != dir {
		t.Errorf("warning names queue_dir %v, want %s", got, dir)
	}
	// Since the first warning: 4 more of the first burst, then 2, then 1.
	if got := all[3].ContextMap()["events_since_last_warning"]; got != int64(7) {
		t.Errorf("the warning after a quiet minute counts %v events, want the 7 dropped since the last one", got)
	}
	if got := all[2].ContextMap()["error"]; got != failure.Error() {
		t.Errorf("the store_failed warning carries error %v, want %q", got, failure)
	}
	if all[0].Message == all[2].Message {
		t.Errorf("disk_full and store_failed warnings say the same: %q", all[0].Message)
	}
}
