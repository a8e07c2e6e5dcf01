package caddymodule

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"github.com/tidwall/gjson"

	"github.com/sidehook/sidehook/matcher"
)

// negativeTTL is how long "this session is not authenticated" is remembered: long enough that a client
// hammering with a dead session does not turn every call into two upstream calls, short enough that nobody
// notices it after logging in (a new login normally yields a new session anyway).
const negativeTTL = 5 * time.Second

// maxCachedSessions bounds the session cache; past it, expired entries go first, then everything.
const maxCachedSessions = 50000

// identifier answers "who makes this call" (docs/configuration.md#identity).
type identifier struct {
	// placeholders
	client, user string
	// resolve
	resolve      *ResolveConfig
	ttl          time.Duration
	sessionParam int
	// resolvePrefix is the resolve call's body up to the session.
	resolvePrefix string
	// logout matches the calls whose success ends the session they carry (nil: none are watched).
	logout *matcher.PatternSet

	mu       sync.Mutex
	sessions map[string]*sessionEntry
}

type sessionEntry struct {
	ready   chan struct{} // closed when id/ok/expires are set
	id      matcher.Identity
	ok      bool
	expires time.Time
}

func (h *Handler) compileIdentity() (*identifier, error) {
	idf := &identifier{sessionParam: -1}
	if h.SessionParam != nil {
		idf.sessionParam = *h.SessionParam
	}
	if h.Identity == nil {
		return idf, nil
	}
	idf.client, idf.user = h.Identity.Client, h.Identity.User
	if rc := h.Identity.Resolve; rc != nil {
		if rc.Method == "" {
			return nil, fmt.Errorf("identity resolve: a method is required")
		}
		if rc.Client == "" {
			return nil, fmt.Errorf("identity resolve %s: a client path is required", rc.Method)
		}
		if idf.sessionParam < 0 {
			return nil, fmt.Errorf("identity resolve %s: session_param must say where the session is", rc.Method)
		}
		idf.resolve = rc
		method, _ := json.Marshal(rc.Method)
		idf.resolvePrefix = `{"jsonrpc":"2.0","method":` + string(method) + `,"params":[`
		idf.ttl = time.Duration(rc.TTL)
		if idf.ttl <= 0 {
			idf.ttl = defaultResolveTTL
		}
		idf.sessions = map[string]*sessionEntry{}
		if len(rc.Logout) > 0 {
			var err error
			if idf.logout, err = matcher.NewPatternSet(rc.Logout); err != nil {
				return nil, fmt.Errorf("identity resolve %s: logout: %w", rc.Method, err)
			}
		}
	}
	return idf, nil
}

// configured reports whether any identity source is set; without one every caller is the empty identity.
func (idf *identifier) configured() bool {
	return idf.resolve != nil || idf.client != "" || idf.user != ""
}

// session returns the JSON of the value a call carries at session_param: the cache key, and what is sent back
// to the upstream when it is resolved. See canonicalSession for why it may differ from the call's spelling.
func (idf *identifier) session(params []byte) (string, bool) {
	if idf.sessionParam < 0 || len(params) == 0 {
		return "", false
	}
	v := gjson.GetBytes(params, strconv.Itoa(idf.sessionParam))
	if !v.Exists() || v.Type == gjson.Null || v.Raw == `""` {
		return "", false
	}
	return canonicalSession(v), true
}

// canonicalSession spells a printable-ASCII string session one way: `"s\u0031"` and `"s1"` are one session to
// the upstream, so they must be one cache entry, or a logout in one spelling would leave the other cached. Any
// other value keeps its raw JSON: JSON decoding is not one-to-one beyond ASCII (a lone surrogate escape and
// U+FFFD decode alike), and two sessions the upstream may tell apart must never share an entry.
func canonicalSession(v gjson.Result) string {
	if v.Type != gjson.String || !strings.Contains(v.Raw, `\`) {
		return v.Raw
	}
	b := make([]byte, 0, len(v.Str)+8)
	b = append(b, '"')
	for i := 0; i < len(v.Str); i++ {
		c := v.Str[i]
		if c < 0x20 || c > 0x7e {
			return v.Raw
		}
		if c == '"' || c == '\\' {
			b = append(b, '\\')
		}
		b = append(b, c)
	}
	return string(append(b, '"'))
}

// identify returns the caller's identity for one call and whether it is authenticated (management calls
// require that). Placeholder identities are authenticated when the client is not empty; resolved ones when
// the upstream accepted the session.
func (idf *identifier) identify(r *http.Request, params []byte, next caddyhttp.Handler) (matcher.Identity, bool) {
	if idf.resolve == nil {
		if !idf.configured() {
			return matcher.Identity{}, false
		}
		repl, _ := r.Context().Value(caddy.ReplacerCtxKey).(*caddy.Replacer)
		if repl == nil {
			repl = caddy.NewReplacer()
		}
		id := matcher.Identity{Client: repl.ReplaceAll(idf.client, ""), User: repl.ReplaceAll(idf.user, "")}
		return id, id.Client != ""
	}
	sess, ok := idf.session(params)
	if !ok {
		return matcher.Identity{}, false
	}
	return idf.resolved(r, sess, next)
}

// resolved looks a session up in the cache, asking the upstream once when it is unknown or expired;
// concurrent first calls for the same session wait for that one upstream call.
func (idf *identifier) resolved(r *http.Request, sess string, next caddyhttp.Handler) (matcher.Identity, bool) {
	now := time.Now()
	idf.mu.Lock()
	e := idf.sessions[sess]
	if e != nil {
		select {
		case <-e.ready:
			if now.After(e.expires) {
				e = nil
			}
		default: // someone is asking right now: wait for them below
		}
	}
	if e == nil {
		e = &sessionEntry{ready: make(chan struct{})}
		idf.evictLocked(now)
		idf.sessions[sess] = e
		idf.mu.Unlock()
		idf.fill(e, r, sess, next)
		return e.id, e.ok
	}
	idf.mu.Unlock()
	select {
	case <-e.ready:
		return e.id, e.ok
	case <-r.Context().Done():
		return matcher.Identity{}, false
	}
}

// fill asks the upstream for e's session and publishes the answer. ready is closed whatever happens, a panic
// further down the route included: otherwise every later call with this session would wait on it forever.
// Until the answer is in, the entry says "not authenticated", so a panic is remembered as that, briefly.
func (idf *identifier) fill(e *sessionEntry, r *http.Request, sess string, next caddyhttp.Handler) {
	e.expires = time.Now().Add(negativeTTL)
	defer close(e.ready)
	id, ok := idf.askUpstream(r, sess, next)
	e.id, e.ok = id, ok
	if ok {
		e.expires = time.Now().Add(idf.ttl)
	}
}

func (idf *identifier) evictLocked(now time.Time) {
	if len(idf.sessions) < maxCachedSessions {
		return
	}
	for k, e := range idf.sessions {
		select {
		case <-e.ready:
			if now.After(e.expires) {
				delete(idf.sessions, k)
			}
		default:
		}
	}
	if len(idf.sessions) >= maxCachedSessions {
		clear(idf.sessions)
	}
}

// askUpstream sends `{"method": <resolve method>, "params": [<session>]}` through the rest of the route (so it
// reaches the same upstream, with the same headers, as the call it is about) and reads the identity out of the
// result. A JSON-RPC error, a non-2xx status or an empty client means "not authenticated".
func (idf *identifier) askUpstream(r *http.Request, sess string, next caddyhttp.Handler) (matcher.Identity, bool) {
	body := make([]byte, 0, len(idf.resolvePrefix)+len(sess)+32)
	body = append(body, idf.resolvePrefix...)
	body = append(body, sess...)
	body = append(body, `],"id":"sidehook-identity"}`...)

	ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), 30*time.Second)
	defer cancel()
	req := r.Clone(ctx)
	setRequestBody(req, body)
	req.Header.Del("Accept-Encoding") // the answer is read here, not by a browser
	req.Header.Set("Content-Type", "application/json")

	rec := newMemoryWriter()
	if err := next.ServeHTTP(rec, req); err != nil || rec.status/100 != 2 {
		return matcher.Identity{}, false
	}
	resp := rec.buf.Bytes()
	result, rpcErr := gjson.GetBytes(resp, "result"), gjson.GetBytes(resp, "error")
	if !result.Exists() || (rpcErr.Exists() && rpcErr.Type != gjson.Null) {
		return matcher.Identity{}, false
	}
	id := matcher.Identity{Client: result.Get(idf.resolve.Client).String()}
	if id.Client == "" {
		// Not authenticated: no half identity either, or a user the upstream did not vouch for would reach the
		// merge fields and the user-specific subscriptions of firing calls.
		return matcher.Identity{}, false
	}
	if idf.resolve.User != "" {
		id.User = result.Get(idf.resolve.User).String()
	}
	return id, true
}

// memoryWriter is a minimal ResponseWriter for sidehook's own upstream calls.
type memoryWriter struct {
	header http.Header
	status int
	buf    bytes.Buffer
}

func newMemoryWriter() *memoryWriter { return &memoryWriter{header: http.Header{}} }

func (m *memoryWriter) Header() http.Header { return m.header }
func (m *memoryWriter) WriteHeader(code int) {
	if m.status == 0 {
		m.status = code
	}
}
func (m *memoryWriter) Write(p []byte) (int, error) {
	if m.status == 0 {
		m.status = http.StatusOK
	}
	if m.buf.Len()+len(p) > defaultMaxBody {
		return 0, fmt.Errorf("identity answer larger than %d bytes", defaultMaxBody)
	}
	return m.buf.Write(p)
}
