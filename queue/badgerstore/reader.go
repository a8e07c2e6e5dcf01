package badgerstore

import (
	"bytes"
	"fmt"

	"github.com/dgraph-io/badger/v4"
	"github.com/sidehook/sidehook/queue/store"
)

// readerMaxSteps is how many keys passReader steps over before it seeks
// instead.
const readerMaxSteps = 8

// passReader reads the records of many jobs inside one transaction: those one
// Claim claims. A destination's jobs come in due order, which for a backlog is
// the order they were queued in, and message ids sort by creation time, so the
// states (r/<id>) and bodies (b/<id>) of consecutive jobs are mostly
// neighbours. An iterator that steps from one to the next costs a fraction of
// Txn.Get, which walks every level of the tree (bloom filters, table indexes)
// for each key: on a drain that lookup was a tenth of the delivering process's
// CPU.
type passReader struct {
	txn            *badger.Txn
	states, bodies *badger.Iterator
}

func newPassReader(txn *badger.Txn) *passReader { return &passReader{txn: txn} }

// close releases the iterators; it must run before the transaction ends.
func (r *passReader) close() {
	for _, it := range []*badger.Iterator{r.states, r.bodies} {
		if it != nil {
			it.Close()
		}
	}
}

// find positions *it (created on first use over prefix) at key and returns
// its item, or nil when key is not there (deleted, expired, never written).
func (r *passReader) find(it **badger.Iterator, prefix, key []byte) *badger.Item {
	if *it == nil {
		*it = keyIterator(r.txn, prefix)
		(*it).Seek(key)
	} else {
		for steps := 0; ; steps++ {
			if !(*it).Valid() || steps == readerMaxSteps {
				(*it).Seek(key)
				break
			}
			c := bytes.Compare((*it).Item().Key(), key)
			if c == 0 {
				break
			}
			if c > 0 {
				(*it).Seek(key) // key is behind, or not there
				break
			}
			(*it).Next()
		}
	}
	if (*it).Valid() && bytes.Equal((*it).Item().Key(), key) {
		return (*it).Item()
	}
	return nil
}

// state is getState through the reader.
func (r *passReader) state(id string) (record, error) {
	item := r.find(&r.states, prefixRecord, recordKey(id))
	if item == nil {
		return record{}, store.ErrNotFound
	}
	return stateOf(item, id)
}

// body is getBody through the reader.
func (r *passReader) body(id string) ([]byte, error) {
	item := r.find(&r.bodies, prefixBody, bodyKey(id))
	if item == nil {
		return nil, fmt.Errorf("read body %s: %w", id, errNoBody)
	}
	body, err := item.ValueCopy(nil)
	if err != nil {
		return nil, fmt.Errorf("read body %s: %w", id, err)
	}
	return body, nil
}
