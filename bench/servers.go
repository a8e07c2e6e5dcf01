package main

import (
	"bytes"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// singleResult is the fake upstream's answer to every single call: small, fixed, valid JSON-RPC.
var singleResult = []byte(`{"jsonrpc":"2.0","result":{"ok":true,"uid":1234},"id":1}`)

var bufPool = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// upstream is the fast fake JSON-RPC API: a fixed answer to a single call, and an answer per id to a batch
// (batches only build backlogs, so their cost does not matter).
func upstream() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		buf := bufPool.Get().(*bytes.Buffer)
		buf.Reset()
		defer bufPool.Put(buf)
		io.Copy(buf, r.Body)
		w.Header().Set("Content-Type", "application/json")
		b := buf.Bytes()
		if len(b) > 0 && b[0] == '[' {
			var calls []struct {
				ID json.RawMessage `json:"id"`
			}
			if err := json.Unmarshal(b, &calls); err != nil {
				http.Error(w, err.Error(), http.StatusBadRequest)
				return
			}
			var out bytes.Buffer
			out.WriteByte('[')
			for i, c := range calls {
				if i > 0 {
					out.WriteByte(',')
				}
				out.WriteString(`{"jsonrpc":"2.0","result":{"ok":true},"id":`)
				out.Write(c.ID)
				out.WriteByte('}')
			}
			out.WriteByte(']')
			w.Header().Set("Content-Length", strconv.Itoa(out.Len()))
			w.Write(out.Bytes())
			return
		}
		w.Header().Set("Content-Length", strconv.Itoa(len(singleResult)))
		w.Write(singleResult)
	})
}

// sink counts the deliveries to one path of the receiver and, when asked, records their arrival times and
// their call-to-delivery latency (arrival minus the body's "time").
type sink struct {
	count atomic.Int64

	mu       sync.Mutex
	record   bool
	arrivals []time.Time
	lat      []time.Duration
	badTime  int64
}

func (s *sink) start(record bool) {
	s.mu.Lock()
	s.record = record
	s.arrivals = s.arrivals[:0]
	s.lat = s.lat[:0]
	s.badTime = 0
	s.mu.Unlock()
	s.count.Store(0)
}

func (s *sink) snapshot() (arrivals []time.Time, lat []time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]time.Time(nil), s.arrivals...), append([]time.Duration(nil), s.lat...)
}

// receiver is the local webhook receiver: one sink per path /hook/<name>, answering 200 at once.
type receiver struct {
	sinks map[string]*sink // fixed before the server starts
}

var timeKey = []byte(`"time":"`)

func (rc *receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	now := time.Now()
	s := rc.sinks[strings.TrimPrefix(r.URL.Path, "/hook/")]
	buf := bufPool.Get().(*bytes.Buffer)
	buf.Reset()
	io.Copy(buf, r.Body)
	if s != nil {
		s.count.Add(1)
		s.mu.Lock()
		if s.record {
			s.arrivals = append(s.arrivals, now)
			if b := buf.Bytes(); bytes.HasPrefix(b, []byte("{")) {
				if i := bytes.Index(b, timeKey); i >= 0 {
					rest := b[i+len(timeKey):]
					if j := bytes.IndexByte(rest, '"'); j > 0 {
						if t, err := time.Parse(time.RFC3339Nano, string(rest[:j])); err == nil {
							s.lat = append(s.lat, now.Sub(t))
						} else {
							s.badTime++
						}
					}
				}
			}
		}
		s.mu.Unlock()
	}
	bufPool.Put(buf)
	w.WriteHeader(http.StatusOK)
}

// serve starts h on a fresh 127.0.0.1 port.
func serve(h http.Handler) (addr string, stop func(), err error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(ln)
	return ln.Addr().String(), func() { srv.Close() }, nil
}

func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}
