package proxy

import (
	"bytes"
	"net/http/httptest"
	"testing"
)

// A Holder told of the copies to come reserves them with every byte it holds; a response the budget cannot
// afford with its copies streams through at once, untouched, and says it was the budget.
func TestHolderReservesForCopiesAndStreamsWhatCannotBeAfforded(t *testing.T) {
	b := NewBudget(1000)
	fits := NewHolder(httptest.NewRecorder(), 1<<20, b)
	fits.ReserveForCopies(9)
	if _, err := fits.Write(bytes.Repeat([]byte("a"), 100)); err != nil || fits.Overflowed() {
		t.Fatalf("100 bytes with 9 copies (1000) did not fit a budget of 1000: err=%v", err)
	}
	if b.Used() != 1000 || fits.Prepaid() != 900 {
		t.Errorf("Used %d, Prepaid %d; want 1000 and 900", b.Used(), fits.Prepaid())
	}
	if err := fits.Release(); err != nil || b.Used() != 0 {
		t.Fatalf("after Release: err=%v, Used %d", err, b.Used())
	}

	rec := httptest.NewRecorder()
	tooDear := NewHolder(rec, 1<<20, b)
	tooDear.ReserveForCopies(9)
	body := bytes.Repeat([]byte("b"), 101)
	if _, err := tooDear.Write(body); err != nil {
		t.Fatal(err)
	}
	if !tooDear.Overflowed() || !tooDear.BudgetRefused() {
		t.Errorf("overflowed %v, budget refused %v; want both", tooDear.Overflowed(), tooDear.BudgetRefused())
	}
	if !bytes.Equal(rec.Body.Bytes(), body) || b.Used() != 0 {
		t.Errorf("client got %d bytes (want %d), Used %d (want 0)", rec.Body.Len(), len(body), b.Used())
	}
}
