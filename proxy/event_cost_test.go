package proxy

import "testing"

// Pairing and redacting copy only what they keep: the result of each call (pairing), and a value that
// redaction blanked something in. A value redaction leaves alone goes into the event as the same bytes.
func TestEventsCopyOnlyWhatRedactionChanged(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector allocates on its own")
	}
	req, err := Parse([]byte(`{"jsonrpc":"2.0","method":"Otys.Services.CandidateService.update","params":["s3ss10n-0123456789abcdef",1234,{"Person":{"firstName":"Ada"}}],"id":1}`), nil)
	if err != nil {
		t.Fatal(err)
	}
	resp := []byte(`{"jsonrpc":"2.0","result":{"ok":true,"uid":1234},"id":1}`)
	if n := testing.AllocsPerRun(50, func() { req.Outcomes(resp) }); n != 2 {
		t.Errorf("pairing one call: %v allocations, want 2 (the outcomes, the result's copy)", n)
	}
	o := req.Outcomes(resp)[0]

	keep := Redactor{SessionParam: -1, Keys: DefaultRedactKeys()}
	ev := keep.Event(req.Calls[0], o)
	if &ev.Args[0] != &req.Calls[0].Params[0] || &ev.Result[0] != &o.Result[0] {
		t.Error("a value redaction left alone was copied into the event")
	}
	if n := testing.AllocsPerRun(50, func() { keep.Event(req.Calls[0], o) }); n != 0 {
		t.Errorf("an event with nothing to redact: %v allocations, want 0", n)
	}

	blank := Redactor{SessionParam: 0, Keys: DefaultRedactKeys()}
	ev = blank.Event(req.Calls[0], o)
	if got, want := string(ev.Args), `[null,1234,{"Person":{"firstName":"Ada"}}]`; got != want {
		t.Errorf("Args = %s, want %s", got, want)
	}
	if &ev.Result[0] != &o.Result[0] {
		t.Error("a result redaction left alone was copied into the event")
	}
	if n := testing.AllocsPerRun(50, func() { blank.Event(req.Calls[0], o) }); n != 2 {
		t.Errorf("an event whose session is blanked: %v allocations, want 2 (the spliced args, their bytes)", n)
	}
}
