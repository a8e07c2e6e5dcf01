package proxy

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
)

// resettableBody lets the benchmark reuse one request body without allocating per iteration.
type resettableBody struct{ bytes.Reader }

func (*resettableBody) Close() error { return nil }

// BenchmarkUnmatchedCall is the request-path work for a call no subscription matches: read and
// restore the body, pre-check the methods, release. Run with -benchmem: the bar is ≤ 4 allocs.
func BenchmarkUnmatchedCall(b *testing.B) {
	data := []byte(`{"jsonrpc":"2.0","method":"Otys.Services.CandidateService.getDetail","params":["sess",1234,{"Person":{"firstName":true}}],"id":1}`)
	n := testNesting()
	rb := &resettableBody{}
	r := httptest.NewRequest(http.MethodPost, "/", nil)
	b.ReportAllocs()
	for b.Loop() {
		rb.Reset(data)
		r.Body, r.ContentLength = rb, int64(len(data))
		body, ok := ReadBody(r, 10<<20)
		if !ok {
			b.Fatal("not read")
		}
		VisitMethods(body.Bytes, n, func(m string) bool { return m != "x" })
		if _, err := io.Copy(io.Discard, r.Body); err != nil {
			b.Fatal(err)
		}
		_ = r.Body.Close() // as the transport does: the buffer is reused once closed and released
		body.Release()
	}
}

func TestUnmatchedCallAllocations(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts are not meaningful under the race detector")
	}
	res := testing.Benchmark(BenchmarkUnmatchedCall)
	if a := res.AllocsPerOp(); a > 1 {
		t.Fatalf("unmatched call path allocates %d per call", a)
	}
}
