package proxy

import "testing"

// Parsing a body of one plain call, the common case, allocates only what it keeps: the Request (which holds
// the call's node and its Calls slot itself), the body's copy, and the call's params and id.
func TestParsingOneCallAllocatesWhatItKeeps(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector allocates on its own")
	}
	body := []byte(`{"jsonrpc":"2.0","method":"Otys.Services.CandidateService.update","params":["s3ss10n",1234,{"Person":{"firstName":"Ada"}}],"id":1}`)
	nesting := testNesting()
	n := testing.AllocsPerRun(50, func() {
		if _, err := ParseVisited(body, nesting); err != nil {
			t.Fatal(err)
		}
	})
	if n > 4 {
		t.Errorf("parsing one call: %v allocations, want at most 4", n)
	}
}
