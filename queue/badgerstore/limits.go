package badgerstore

import (
	"encoding/binary"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/dgraph-io/badger/v4"
)

// dailyCounterTTL outlives a UTC day by a day, so a counter is there for
// the whole day it counts and Badger drops it afterwards without a sweeper.
const dailyCounterTTL = 48 * time.Hour

// dailyLimits holds today's per-(client,user) counters in memory. Counting in
// memory (and writing the counter into the enqueue transaction without reading
// it there) keeps concurrent Enqueue calls free of transaction conflicts, so
// they keep sharing Badger's group commits even when they all come from one
// identity. A counter is loaded from Badger the first time it is used in a
// process, so a restart continues the day's count. After a crash the stored
// value may lag the true count by the few enqueues that raced the last write.
type dailyLimits struct {
	mu       sync.Mutex
	day      string
	counters map[string]*atomic.Int64
}

func newDailyLimits() *dailyLimits {
	return &dailyLimits{counters: make(map[string]*atomic.Int64)}
}

// counter returns the live counter for key on day, loading it on first use.
func (d *dailyLimits) counter(db *badger.DB, day string, key []byte) (*atomic.Int64, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.day != day {
		// A new UTC day: yesterday's counters are no longer needed here.
		d.day = day
		clear(d.counters)
	}
	if c, ok := d.counters[string(key)]; ok {
		return c, nil
	}
	c := new(atomic.Int64)
	err := db.View(func(txn *badger.Txn) error {
		item, err := txn.Get(key)
		if errors.Is(err, badger.ErrKeyNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		return item.Value(func(v []byte) error {
			if len(v) == 8 {
				c.Store(int64(binary.BigEndian.Uint64(v)))
			}
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("load daily counter: %w", err)
	}
	d.counters[string(key)] = c
	return c, nil
}

// utcDay is the counter's day for t.
func utcDay(t time.Time) string { return t.UTC().Format("2006-01-02") }

// dailyCounterEntry is the entry that persists counter value n.
func dailyCounterEntry(key []byte, n int64) *badger.Entry {
	v := binary.BigEndian.AppendUint64(nil, uint64(max(n, 0)))
	return badger.NewEntry(key, v).WithTTL(dailyCounterTTL)
}
