package queue

import (
	"bytes"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sidehook/sidehook/queue/store/memstore"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// lockedBuffer is a log sink the delivery workers write to while the test reads it.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) Sync() error { return nil }

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// A webhook URL may carry a password in its userinfo; a failed delivery (a receiver's error, a URL that no
// longer parses) is logged and recorded without it.
func TestDeliveryFailureNeverShowsTheURLPassword(t *testing.T) {
	const password = "pw-Secret-9"
	rc := newReceiver(t, statuses(500))
	port := mustPort(t, rc.srv.URL)

	var logs lockedBuffer
	logger := zap.New(zapcore.NewCore(zapcore.NewJSONEncoder(zap.NewProductionEncoderConfig()), &logs, zapcore.DebugLevel))
	q := New(memstore.New(), logger)
	t.Cleanup(func() { _ = q.Close() })
	cfg := testConfig()
	cfg.Retry = []time.Duration{time.Millisecond}
	q.Configure(cfg, newFakeEndpoints())

	refused := newMessage("http://hook:" + password + "@127.0.0.1:" + port + "/hook")
	unparsable := newMessage("http://hook:" + password + "@[::1/hook")
	enqueue(t, q, refused, unparsable)
	for _, id := range []string{refused.ID, unparsable.ID} {
		waitFor(t, 10*time.Second, statusIs(t, q, id, StatusDead))
		if item := logOf(t, q, id); item.Error == "" || strings.Contains(item.Error, password) {
			t.Errorf("log item error of %s = %q: want a reason without the password", id, item.Error)
		}
	}
	if rc.count() == 0 {
		t.Fatal("the receiver got nothing: the failure this test looks at did not happen")
	}
	out := logs.String()
	if !strings.Contains(out, "webhook delivery failed") {
		t.Fatalf("no delivery failure was logged:\n%s", out)
	}
	if strings.Contains(out, password) {
		t.Errorf("the log shows the URL's password:\n%s", out)
	}
}
