package queue

import (
	"github.com/sidehook/sidehook/queue/badgerstore"
	"go.uber.org/zap"
)

// Open opens (or creates) the embedded store in dir and returns the engine over it. Jobs that were
// being attempted when a previous process died are due again: a claim does not outlive its process.
func Open(dir string, logger *zap.Logger) (*Queue, error) {
	st, err := badgerstore.Open(dir, logger)
	if err != nil {
		return nil, err
	}
	return New(st, logger), nil
}
