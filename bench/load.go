package main

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"sort"
	"sync"
	"sync/atomic"
	"time"
)

// rawRequest is a complete HTTP/1.1 POST, prebuilt once so the load generator spends its CPU on the wire,
// not on building requests: the cheaper the generator, the more of the machine the proxies under test get.
func rawRequest(addr string, body []byte) []byte {
	head := fmt.Sprintf("POST / HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n", addr, len(body))
	return append([]byte(head), body...)
}

// conn is one keep-alive connection of the load generator.
type conn struct {
	addr string
	c    net.Conn
	br   *bufio.Reader
}

func (k *conn) dial() error {
	if k.c != nil {
		k.c.Close()
	}
	c, err := net.DialTimeout("tcp", k.addr, 5*time.Second)
	if err != nil {
		k.c = nil
		return err
	}
	k.c = c
	if k.br == nil {
		k.br = bufio.NewReaderSize(c, 16<<10)
	} else {
		k.br.Reset(c)
	}
	return nil
}

// do sends req and reads the whole response; it reports the status code.
func (k *conn) do(req []byte) (int, error) {
	if k.c == nil {
		if err := k.dial(); err != nil {
			return 0, err
		}
	}
	k.c.SetDeadline(time.Now().Add(30 * time.Second))
	if _, err := k.c.Write(req); err != nil {
		k.c.Close()
		k.c = nil
		return 0, err
	}
	resp, err := http.ReadResponse(k.br, nil)
	if err != nil {
		k.c.Close()
		k.c = nil
		return 0, err
	}
	_, err = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if err != nil || resp.Close {
		k.c.Close()
		k.c = nil
	}
	return resp.StatusCode, err
}

func (k *conn) close() {
	if k.c != nil {
		k.c.Close()
	}
}

// loadResult is what one closed-loop load reports.
type loadResult struct {
	OK, Errors int64
	Elapsed    time.Duration
}

func (r loadResult) rate() float64 { return float64(r.OK) / r.Elapsed.Seconds() }

// closedLoad is a prepared closed-loop load: conns connections, each sending the next request as soon as the
// previous answer is in, from start until start+d.
type closedLoad struct {
	addr  string
	req   []byte
	conns []*conn
}

func newClosedLoad(addr string, body []byte, n int) (*closedLoad, error) {
	l := &closedLoad{addr: addr, req: rawRequest(addr, body)}
	for i := 0; i < n; i++ {
		k := &conn{addr: addr}
		if err := k.dial(); err != nil {
			l.close()
			return nil, err
		}
		l.conns = append(l.conns, k)
	}
	return l, nil
}

func (l *closedLoad) close() {
	for _, k := range l.conns {
		k.close()
	}
}

// run starts the connections' loops when start is closed and returns after the deadline.
func (l *closedLoad) run(start <-chan struct{}, d time.Duration, res *loadResult, wg *sync.WaitGroup) {
	var ok, errs atomic.Int64
	var inner sync.WaitGroup
	for _, k := range l.conns {
		inner.Add(1)
		go func(k *conn) {
			defer inner.Done()
			<-start
			deadline := time.Now().Add(d)
			for time.Now().Before(deadline) {
				code, err := k.do(l.req)
				if err != nil || code != http.StatusOK {
					errs.Add(1)
					if err != nil {
						time.Sleep(5 * time.Millisecond)
					}
					continue
				}
				ok.Add(1)
			}
		}(k)
	}
	go func() {
		defer wg.Done()
		<-start
		t0 := time.Now()
		inner.Wait()
		*res = loadResult{OK: ok.Load(), Errors: errs.Load(), Elapsed: time.Since(t0)}
	}()
}

// runPair runs two identical closed-loop loads at the same time, one per target, and returns their results.
// first says which of the two has its goroutines started first (alternated by the caller).
func runPair(addrA, addrB string, body []byte, conns int, d time.Duration, aFirst bool) (loadResult, loadResult, error) {
	la, err := newClosedLoad(addrA, body, conns)
	if err != nil {
		return loadResult{}, loadResult{}, err
	}
	defer la.close()
	lb, err := newClosedLoad(addrB, body, conns)
	if err != nil {
		return loadResult{}, loadResult{}, err
	}
	defer lb.close()
	var ra, rb loadResult
	var wg sync.WaitGroup
	wg.Add(2)
	start := make(chan struct{})
	if aFirst {
		la.run(start, d, &ra, &wg)
		lb.run(start, d, &rb, &wg)
	} else {
		lb.run(start, d, &rb, &wg)
		la.run(start, d, &ra, &wg)
	}
	close(start)
	wg.Wait()
	return ra, rb, nil
}

// openLoad sends requests at a fixed rate whatever the answers' speed, and measures each latency from the
// moment the request was due (so a stall counts against every request it delays: no coordinated omission).
type openResult struct {
	Latencies []time.Duration
	Errors    int64
}

func openLoop(addr string, body []byte, rate int, d time.Duration, workers int, start <-chan struct{}) openResult {
	req := rawRequest(addr, body)
	total := int(float64(rate) * d.Seconds())
	due := make(chan time.Time, total)
	lat := make([]time.Duration, 0, total)
	var mu sync.Mutex
	var errs atomic.Int64
	var wg sync.WaitGroup
	for i := 0; i < workers; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			k := &conn{addr: addr}
			defer k.close()
			local := make([]time.Duration, 0, total/workers+16)
			for t := range due {
				code, err := k.do(req)
				if err != nil || code != http.StatusOK {
					errs.Add(1)
					continue
				}
				local = append(local, time.Since(t))
			}
			mu.Lock()
			lat = append(lat, local...)
			mu.Unlock()
		}()
	}
	<-start
	interval := time.Second / time.Duration(rate)
	t0 := time.Now()
	for i := 0; i < total; i++ {
		at := t0.Add(time.Duration(i) * interval)
		if w := time.Until(at); w > 0 {
			time.Sleep(w)
		}
		due <- at
	}
	close(due)
	wg.Wait()
	return openResult{Latencies: lat, Errors: errs.Load()}
}

// percentile returns the p-th percentile (0..100) of ds (sorted in place).
func percentile(ds []time.Duration, p float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	sort.Slice(ds, func(i, j int) bool { return ds[i] < ds[j] })
	i := int(float64(len(ds)-1) * p / 100)
	return ds[i]
}

// fill sends n requests with conns connections as fast as they are answered (for building backlogs).
func fill(addr string, body []byte, n, conns int) (ok int64, errs int64) {
	req := rawRequest(addr, body)
	var next, okN, errN atomic.Int64
	var wg sync.WaitGroup
	for i := 0; i < conns; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			k := &conn{addr: addr}
			defer k.close()
			for next.Add(1) <= int64(n) {
				code, err := k.do(req)
				if err != nil || code != http.StatusOK {
					errN.Add(1)
					if err != nil {
						time.Sleep(5 * time.Millisecond)
					}
					continue
				}
				okN.Add(1)
			}
		}()
	}
	wg.Wait()
	return okN.Load(), errN.Load()
}
