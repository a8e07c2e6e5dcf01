package caddymodule

import (
	"net/http"
	"strings"

	"github.com/sidehook/sidehook/proxy"
)

// maxLogoutAnswerCopy bounds the copy of an answer kept to find out whether a logout in it succeeded. A
// logout's own answer is a few bytes; only a batch or multicall that also carries large calls can pass it,
// and then the outcome is not read: the session is evicted (see logoutWatch.decide).
const maxLogoutAnswerCopy = 1 << 20

// isLogout reports whether method ends the session it carries (`logout` patterns of the resolve identity).
// It runs on every call's methods in the hot scan, so it must not allocate; a nil set matches nothing.
func (idf *identifier) isLogout(method string) bool {
	return idf != nil && idf.logout.Match(method)
}

// forget drops the cached identity of the session carried by params, whatever state its entry is in: a later
// call with it asks the upstream again. A resolution still in flight keeps answering the calls already waiting
// for it (they came before the logout), but its answer is no longer cached for anyone else.
func (idf *identifier) forget(params []byte) {
	if idf.sessions == nil {
		return
	}
	sess, ok := idf.session(params)
	if !ok {
		return
	}
	idf.mu.Lock()
	delete(idf.sessions, sess)
	idf.mu.Unlock()
}

// logoutWatch is the ResponseWriter of a request that carries logout calls. It streams the answer as it comes
// (nothing is held back) while keeping a bounded copy, and evicts the sessions of the logouts that succeeded
// before the client can have the whole answer: the write that completes the JSON answer is passed on only
// after the eviction, so a client that reads its logout's result and sends its next call at once is already
// refused. Without it the cached identity would keep the session managing subscriptions for up to the TTL.
type logoutWatch struct {
	http.ResponseWriter
	idf     *identifier
	req     *proxy.Request
	logouts []int // indexes into req.Calls

	status  int
	copy    []byte
	end     jsonEnd
	decided bool
}

// watchLogouts returns w wrapped in a logoutWatch when req carries a logout-class call, else nil. The caller
// must call finish once the rest of the route has returned.
func (rt *handlerState) watchLogouts(w http.ResponseWriter, req *proxy.Request) *logoutWatch {
	var logouts []int
	for i, c := range req.Calls {
		if rt.identity.isLogout(c.Method) {
			logouts = append(logouts, i)
		}
	}
	if len(logouts) == 0 {
		return nil
	}
	return &logoutWatch{ResponseWriter: w, idf: rt.identity, req: req, logouts: logouts}
}

// WriteHeader passes the status on. An answer whose body sidehook cannot read (compressed) decides at once, on
// the status alone, before any of it goes out.
func (lw *logoutWatch) WriteHeader(code int) {
	if code >= 100 && code < 200 {
		lw.ResponseWriter.WriteHeader(code) // informational: the real status follows
		return
	}
	if lw.status == 0 {
		lw.status = code
		if code/100 != 2 {
			lw.decided = true // the upstream failed as a whole: no logout succeeded
		} else if enc := strings.TrimSpace(lw.Header().Get("Content-Encoding")); enc != "" && !strings.EqualFold(enc, "identity") {
			lw.decide(false)
		}
	}
	lw.ResponseWriter.WriteHeader(code)
}

// Write keeps a copy of p and, when p completes the answer, decides before passing p on.
func (lw *logoutWatch) Write(p []byte) (int, error) {
	if lw.status == 0 {
		lw.WriteHeader(http.StatusOK)
	}
	if !lw.decided {
		if len(lw.copy)+len(p) > maxLogoutAnswerCopy {
			lw.decide(false)
		} else {
			lw.copy = append(lw.copy, p...)
			if lw.end.feed(p) {
				lw.decide(true)
			}
		}
	}
	return lw.ResponseWriter.Write(p)
}

// Unwrap gives http.ResponseController (flushing, deadlines) the writer underneath.
func (lw *logoutWatch) Unwrap() http.ResponseWriter { return lw.ResponseWriter }

// finish decides, after the route returned, for an answer whose end was not seen in the stream (an empty body,
// a body that is not JSON, a route that panicked midway).
func (lw *logoutWatch) finish() {
	if !lw.decided && lw.status/100 == 2 {
		lw.decide(true)
	}
}

// decide evicts the session of every logout that succeeded. readable says whether the copy is the whole,
// uncompressed answer. Only a JSON-RPC success counts, in a batch or a multicall as much as alone; a logout
// whose outcome cannot be known although the upstream answered 2xx (a notification, an answer too large to
// copy or compressed) evicts too: evicting costs one more upstream check at the session's next call, keeping
// could leave a logged-out session managing subscriptions until the TTL.
func (lw *logoutWatch) decide(readable bool) {
	if lw.decided {
		return
	}
	lw.decided = true
	var outcomes []proxy.Outcome
	if readable {
		outcomes = lw.req.Outcomes(lw.copy)
	}
	lw.copy = nil
	for _, i := range lw.logouts {
		c := lw.req.Calls[i]
		if readable && !c.Notification && !(outcomes[i].Found && outcomes[i].OK) {
			continue
		}
		lw.idf.forget(c.Params)
	}
}

// jsonEnd finds where a streamed JSON object or array ends, without parsing it: it follows nesting and strings
// only. That is enough to know when the last byte of a JSON-RPC answer is being written.
type jsonEnd struct {
	depth    int
	started  bool
	inString bool
	escaped  bool
	done     bool
}

// feed reads the next bytes and reports whether the top-level value is complete after them.
func (e *jsonEnd) feed(p []byte) bool {
	for _, c := range p {
		if e.done {
			return true
		}
		switch {
		case e.inString:
			switch {
			case e.escaped:
				e.escaped = false
			case c == '\\':
				e.escaped = true
			case c == '"':
				e.inString = false
			}
		case c == '"':
			e.inString = true
		case c == '{' || c == '[':
			e.depth++
			e.started = true
		case c == '}' || c == ']':
			e.depth--
			if e.started && e.depth <= 0 {
				e.done = true
			}
		}
	}
	return e.done
}
