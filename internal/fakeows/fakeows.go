// Package fakeows is a fake OTYS OWS JSON-RPC 2.0 server for tests and demos.
//
// It implements a small, in-memory subset of OWS: login/logout/check,
// CandidateService and VacancyService data calls, the nesting forms sidehook
// has to understand (batches, Otys.Services.MultiService.execute,
// Otys.Services.LanguageService.wrapRequest, system.multicall) and a few
// helpers (echo, fail). Every method under Otys.Services.X is also accepted in
// its short form X (e.g. CandidateService.update).
package fakeows

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"io"
	"maps"
	mrand "math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

// JSON-RPC error codes used by the fake.
const (
	CodeParseError     = -32700
	CodeInvalidRequest = -32600
	CodeMethodNotFound = -32601
	CodeInvalidParams  = -32602
	CodeFailure        = -32000 // method "fail"
	CodeAccessDenied   = -32001 // no or invalid session, unknown API key
	CodeNotFound       = -32004 // unknown candidate/vacancy uid
)

// Error messages used by the fake.
const (
	MsgAccessDenied     = "Access denied; please login first"
	MsgMethodNotFound   = "Method not found"
	MsgWebhooksReached  = "upstream WebhooksService must not be reached"
	MsgFailure          = "failure on purpose"
	MsgCandidateMissing = "Candidate not found"
	MsgVacancyMissing   = "Vacancy not found"
)

const (
	maxBody  = 10 << 20
	maxDepth = 32
	prefix   = "Otys.Services."
)

// User is an account that can log in with its API key.
type User struct{ APIKey, ClientID, UserID string }

// Options configures a Server.
type Options struct {
	Users        []User        // accounts; login takes an API key
	ShuffleBatch bool          // answer batch elements in a shuffled (deterministic) order
	Delay        time.Duration // delay before processing and answering a request
}

// Server is the fake OWS endpoint. It is an http.Handler and safe for
// concurrent use; requests are processed one at a time.
type Server struct {
	opts Options

	mu         sync.Mutex
	requests   [][]byte
	calls      []string
	sessions   map[string]User
	candidates map[string]map[string]json.RawMessage
	vacancies  map[string]map[string]json.RawMessage
	nextCand   int
	rng        *mrand.Rand
}

// Error is a JSON-RPC error object.
type Error struct {
	Code    int    `json:"code"`
	Message string `json:"message"`
}

func (e *Error) Error() string { return strconv.Itoa(e.Code) + ": " + e.Message }

func errf(code int, msg string) *Error { return &Error{Code: code, Message: msg} }

// New returns a server with candidate "cand-1" and vacancy "vac-1" pre-seeded.
func New(opts Options) *Server {
	opts.Users = append([]User(nil), opts.Users...)
	s := &Server{opts: opts}
	s.reset()
	return s
}

// Reset forgets recorded requests and calls, all sessions and all data
// changes, and restores the seed records.
func (s *Server) Reset() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.reset()
}

func (s *Server) reset() {
	s.requests = nil
	s.calls = nil
	s.sessions = map[string]User{}
	s.candidates = map[string]map[string]json.RawMessage{
		"cand-1": {
			"uid":       json.RawMessage(`"cand-1"`),
			"firstName": json.RawMessage(`"Ada"`),
			"lastName":  json.RawMessage(`"Lovelace"`),
			"email":     json.RawMessage(`"ada@example.com"`),
		},
	}
	s.vacancies = map[string]map[string]json.RawMessage{
		"vac-1": {
			"uid":   json.RawMessage(`"vac-1"`),
			"title": json.RawMessage(`"Go developer"`),
		},
	}
	s.nextCand = 2
	s.rng = mrand.New(mrand.NewPCG(1, 2))
}

// Requests returns copies of every POST body received, in order.
func (s *Server) Requests() [][]byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([][]byte, len(s.requests))
	for i, b := range s.requests {
		out[i] = bytes.Clone(b)
	}
	return out
}

// Calls returns every method dispatched, top level and nested, in the order
// they were executed (an outer call comes before its inner calls).
func (s *Server) Calls() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.calls...)
}

// Candidate returns the stored candidate record (without the token) as JSON.
func (s *Server) Candidate(uid string) (json.RawMessage, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	rec, ok := s.candidates[uid]
	if !ok {
		return nil, false
	}
	b, _ := json.Marshal(rec)
	return b, true
}

// Vacancy returns the stored vacancy record as JSON.
func (s *Server) Vacancy(uid string) (json.RawMessage, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	rec, ok := s.vacancies[uid]
	if !ok {
		return nil, false
	}
	b, _ := json.Marshal(rec)
	return b, true
}

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
	if err != nil {
		http.Error(w, "cannot read body", http.StatusBadRequest)
		return
	}
	s.mu.Lock()
	s.requests = append(s.requests, bytes.Clone(body))
	s.mu.Unlock()

	if s.opts.Delay > 0 {
		t := time.NewTimer(s.opts.Delay)
		select {
		case <-t.C:
		case <-r.Context().Done():
			t.Stop()
			return // client gone: nothing is executed
		}
	}

	out := s.handle(body)
	if out == nil {
		w.WriteHeader(http.StatusNoContent)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(out)))
	_, _ = w.Write(out)
}

type response struct {
	JSONRPC string          `json:"jsonrpc"`
	ID      json.RawMessage `json:"id"`
	Result  json.RawMessage `json:"result,omitempty"`
	Error   *Error          `json:"error,omitempty"`
}

func marshalResp(id, result json.RawMessage, e *Error) []byte {
	if id == nil {
		id = json.RawMessage("null")
	}
	r := response{JSONRPC: "2.0", ID: id}
	if e != nil {
		r.Error = e
	} else {
		if result == nil {
			result = json.RawMessage("null")
		}
		r.Result = result
	}
	b, _ := json.Marshal(r)
	return b
}

// handle returns the response body, or nil when nothing is to be answered.
func (s *Server) handle(body []byte) []byte {
	trimmed := bytes.TrimSpace(body)
	if !json.Valid(trimmed) {
		return marshalResp(nil, nil, errf(CodeParseError, "Parse error"))
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(trimmed) > 0 && trimmed[0] == '[' {
		var elems []json.RawMessage
		_ = json.Unmarshal(trimmed, &elems)
		if len(elems) == 0 {
			return marshalResp(nil, nil, errf(CodeInvalidRequest, "Invalid Request"))
		}
		var out []json.RawMessage
		for _, el := range elems {
			if r := s.handleOne(el); r != nil {
				out = append(out, r)
			}
		}
		if len(out) == 0 {
			return nil
		}
		if s.opts.ShuffleBatch {
			s.shuffle(out)
		}
		b, _ := json.Marshal(out)
		return b
	}
	return s.handleOne(trimmed)
}

// shuffle permutes out deterministically; with two or more elements the
// result always differs from the input order.
func (s *Server) shuffle(out []json.RawMessage) {
	n := len(out)
	if n < 2 {
		return
	}
	perm := s.rng.Perm(n)
	identity := true
	for i, p := range perm {
		if i != p {
			identity = false
			break
		}
	}
	if identity { // rotate by one so the order always differs
		for i := range perm {
			perm[i] = (i + 1) % n
		}
	}
	orig := append([]json.RawMessage(nil), out...)
	for i, p := range perm {
		out[i] = orig[p]
	}
}

type request struct {
	Method *string         `json:"method"`
	Params json.RawMessage `json:"params"`
	ID     json.RawMessage `json:"id"`
}

func (s *Server) handleOne(raw json.RawMessage) []byte {
	var req request
	if len(raw) == 0 || raw[0] != '{' || json.Unmarshal(raw, &req) != nil || req.Method == nil {
		return marshalResp(req.ID, nil, errf(CodeInvalidRequest, "Invalid Request"))
	}
	res, e := s.dispatch(*req.Method, req.Params, 0)
	if req.ID == nil { // notification
		return nil
	}
	return marshalResp(req.ID, res, e)
}

// dispatch executes one call (top level or nested) and records its method.
func (s *Server) dispatch(method string, params json.RawMessage, depth int) (json.RawMessage, *Error) {
	s.calls = append(s.calls, method)
	if depth > maxDepth {
		return nil, errf(CodeInvalidRequest, "nesting too deep")
	}
	switch method {
	case "echo":
		if params == nil {
			return json.RawMessage("null"), nil
		}
		return params, nil
	case "fail":
		return nil, errf(CodeFailure, MsgFailure)
	case "system.multicall":
		return s.multicall(params, depth)
	}

	args, ok := positional(params)
	if !ok {
		return nil, errf(CodeInvalidParams, "Invalid params")
	}
	switch method {
	case "login":
		return s.login(args)
	case "logout":
		if len(args) > 0 {
			var sess string
			if json.Unmarshal(args[0], &sess) == nil {
				delete(s.sessions, sess)
			}
		}
		return json.RawMessage("true"), nil
	case "check":
		u, e := s.session(args)
		if e != nil {
			return nil, e
		}
		return mustJSON(map[string]string{"clientId": u.ClientID, "id": u.UserID, "username": u.UserID}), nil
	}

	short := strings.TrimPrefix(method, prefix)
	if strings.HasPrefix(short, "WebhooksService.") {
		return nil, errf(CodeMethodNotFound, MsgWebhooksReached)
	}
	switch short {
	case "MultiService.execute":
		return s.multiExecute(args, depth)
	case "LanguageService.wrapRequest":
		return s.wrapRequest(args, depth)
	case "CandidateService.add":
		return s.data(args, 2, func() (json.RawMessage, *Error) {
			fields, ok := object(args[1])
			if !ok {
				return nil, errf(CodeInvalidParams, "Invalid params")
			}
			uid := "cand-" + strconv.Itoa(s.nextCand)
			s.nextCand++
			fields["uid"] = mustJSON(uid)
			s.candidates[uid] = fields
			return mustJSON(uid), nil
		})
	case "CandidateService.update":
		return s.update(args, s.candidates, MsgCandidateMissing)
	case "CandidateService.getDetail":
		return s.getDetail(args, s.candidates, MsgCandidateMissing, true)
	case "VacancyService.update":
		return s.update(args, s.vacancies, MsgVacancyMissing)
	case "VacancyService.getDetail":
		return s.getDetail(args, s.vacancies, MsgVacancyMissing, false)
	}
	return nil, errf(CodeMethodNotFound, MsgMethodNotFound)
}

func (s *Server) login(args []json.RawMessage) (json.RawMessage, *Error) {
	var key string
	if len(args) == 0 || json.Unmarshal(args[0], &key) != nil {
		return nil, errf(CodeAccessDenied, MsgAccessDenied)
	}
	for _, u := range s.opts.Users {
		if u.APIKey == key {
			b := make([]byte, 16)
			_, _ = rand.Read(b)
			sess := "sess_" + hex.EncodeToString(b)
			s.sessions[sess] = u
			return mustJSON(sess), nil
		}
	}
	return nil, errf(CodeAccessDenied, MsgAccessDenied)
}

// session validates args[0] as a live session.
func (s *Server) session(args []json.RawMessage) (User, *Error) {
	var sess string
	if len(args) == 0 || json.Unmarshal(args[0], &sess) != nil {
		return User{}, errf(CodeAccessDenied, MsgAccessDenied)
	}
	u, ok := s.sessions[sess]
	if !ok {
		return User{}, errf(CodeAccessDenied, MsgAccessDenied)
	}
	return u, nil
}

// data checks the session and the argument count, then runs f.
func (s *Server) data(args []json.RawMessage, n int, f func() (json.RawMessage, *Error)) (json.RawMessage, *Error) {
	if _, e := s.session(args); e != nil {
		return nil, e
	}
	if len(args) < n {
		return nil, errf(CodeInvalidParams, "Invalid params")
	}
	return f()
}

func (s *Server) update(args []json.RawMessage, store map[string]map[string]json.RawMessage, missing string) (json.RawMessage, *Error) {
	return s.data(args, 3, func() (json.RawMessage, *Error) {
		var uid string
		if json.Unmarshal(args[1], &uid) != nil {
			return nil, errf(CodeInvalidParams, "Invalid params")
		}
		fields, ok := object(args[2])
		if !ok {
			return nil, errf(CodeInvalidParams, "Invalid params")
		}
		rec, ok := store[uid]
		if !ok {
			return nil, errf(CodeNotFound, missing)
		}
		delete(fields, "uid")
		maps.Copy(rec, fields)
		return json.RawMessage("true"), nil
	})
}

func (s *Server) getDetail(args []json.RawMessage, store map[string]map[string]json.RawMessage, missing string, token bool) (json.RawMessage, *Error) {
	return s.data(args, 2, func() (json.RawMessage, *Error) {
		var uid string
		if json.Unmarshal(args[1], &uid) != nil {
			return nil, errf(CodeInvalidParams, "Invalid params")
		}
		rec, ok := store[uid]
		if !ok {
			return nil, errf(CodeNotFound, missing)
		}
		out := maps.Clone(rec)
		if token {
			out["token"] = mustJSON("tok-" + uid + "-secret")
		}
		return mustJSON(out), nil
	})
}

// multiExecute: params [[{"method","args"},...]] -> [{"status":"success","data":r} | {"status":"error","message":m}, ...].
func (s *Server) multiExecute(args []json.RawMessage, depth int) (json.RawMessage, *Error) {
	var inner []json.RawMessage
	if len(args) == 0 || json.Unmarshal(args[0], &inner) != nil || inner == nil {
		return nil, errf(CodeInvalidParams, "Invalid params")
	}
	type entry struct {
		Status  string          `json:"status"`
		Data    json.RawMessage `json:"data,omitempty"`
		Message string          `json:"message,omitempty"`
	}
	out := make([]entry, 0, len(inner))
	for _, raw := range inner {
		var c struct {
			Method *string         `json:"method"`
			Args   json.RawMessage `json:"args"`
		}
		if json.Unmarshal(raw, &c) != nil || c.Method == nil {
			out = append(out, entry{Status: "error", Message: "Invalid Request"})
			continue
		}
		res, e := s.dispatch(*c.Method, c.Args, depth+1)
		if e != nil {
			out = append(out, entry{Status: "error", Message: e.Message})
			continue
		}
		if res == nil {
			res = json.RawMessage("null")
		}
		out = append(out, entry{Status: "success", Data: res})
	}
	return mustJSON(out), nil
}

// wrapRequest: params [lang, {"method","params"}] -> the inner call's result
// or error. The inner request may also be given as a JSON string.
func (s *Server) wrapRequest(args []json.RawMessage, depth int) (json.RawMessage, *Error) {
	if len(args) < 2 {
		return nil, errf(CodeInvalidParams, "Invalid params")
	}
	raw := args[1]
	var str string
	if json.Unmarshal(raw, &str) == nil {
		raw = json.RawMessage(str)
	}
	var req request
	if json.Unmarshal(raw, &req) != nil || req.Method == nil {
		return nil, errf(CodeInvalidRequest, "Invalid Request")
	}
	return s.dispatch(*req.Method, req.Params, depth+1)
}

// multicall: params [[{"methodName","params"},...]] -> [[r] | {"faultCode","faultString"}, ...].
func (s *Server) multicall(params json.RawMessage, depth int) (json.RawMessage, *Error) {
	args, ok := positional(params)
	var inner []json.RawMessage
	if !ok || len(args) == 0 || json.Unmarshal(args[0], &inner) != nil || inner == nil {
		return nil, errf(CodeInvalidParams, "Invalid params")
	}
	type fault struct {
		FaultCode   int    `json:"faultCode"`
		FaultString string `json:"faultString"`
	}
	out := make([]any, 0, len(inner))
	for _, raw := range inner {
		var c struct {
			MethodName *string         `json:"methodName"`
			Params     json.RawMessage `json:"params"`
		}
		if json.Unmarshal(raw, &c) != nil || c.MethodName == nil {
			out = append(out, fault{CodeInvalidRequest, "Invalid Request"})
			continue
		}
		res, e := s.dispatch(*c.MethodName, c.Params, depth+1)
		if e != nil {
			out = append(out, fault{e.Code, e.Message})
			continue
		}
		if res == nil {
			res = json.RawMessage("null")
		}
		out = append(out, []json.RawMessage{res})
	}
	return mustJSON(out), nil
}

// positional decodes params as an array; absent or null params are empty.
func positional(params json.RawMessage) ([]json.RawMessage, bool) {
	p := bytes.TrimSpace(params)
	if len(p) == 0 || bytes.Equal(p, []byte("null")) {
		return nil, true
	}
	if p[0] != '[' {
		return nil, false
	}
	var args []json.RawMessage
	if json.Unmarshal(p, &args) != nil {
		return nil, false
	}
	return args, true
}

func object(raw json.RawMessage) (map[string]json.RawMessage, bool) {
	p := bytes.TrimSpace(raw)
	if len(p) == 0 || p[0] != '{' {
		return nil, false
	}
	var m map[string]json.RawMessage
	if json.Unmarshal(p, &m) != nil {
		return nil, false
	}
	return m, true
}

func mustJSON(v any) json.RawMessage {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}
