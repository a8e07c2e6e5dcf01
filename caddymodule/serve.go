package caddymodule

import (
	"errors"
	"net/http"
	"strings"

	"github.com/caddyserver/caddy/v2/modules/caddyhttp"

	"github.com/sidehook/sidehook/matcher"
	"github.com/sidehook/sidehook/proxy"
)

// What a body holds that sidehook cares about; found by one cheap pass over the methods.
const (
	wantsFiring     = 1 << iota // some call may fire a subscription
	wantsManagement             // some call is for the management service
	wantsLogout                 // some call may end a session the identity cache holds (logout.go)
)

// ServeHTTP is the request path. The common case, a call that no subscription can match, costs a body read
// into a pooled buffer and one allocation-free pass over its methods; the response then streams exactly as it
// would without sidehook. Everything else is in serveObserved. Whatever fails on sidehook's side, the call
// goes on (docs/architecture.md#fail-open).
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request, next caddyhttp.Handler) error {
	rt := &h.rt
	if r.Method != http.MethodPost || r.ContentLength == 0 || r.ContentLength > rt.maxBody || isUpgrade(r) {
		return next.ServeHTTP(w, r)
	}
	body, ok := proxy.ReadBody(r, rt.maxBody)
	if !ok {
		rt.metrics.passedTooLarge.Inc()
		return next.ServeHTTP(w, r)
	}
	defer body.Release()
	wants := rt.scan(body.Bytes)
	if wants == 0 {
		return next.ServeHTTP(w, r)
	}
	return h.serveObserved(w, r, next, body.Bytes, wants)
}

// scan is the hot path: it must not allocate.
func (rt *handlerState) scan(body []byte) int {
	idx := rt.store.Index()
	wants, seen := 0, 0
	isRPC := proxy.VisitMethods(body, rt.nesting, func(method string) bool {
		seen++
		switch {
		case rt.isManagement(method):
			wants |= wantsManagement
		case idx.Any(method) && !rt.neverFire.Match(method):
			wants |= wantsFiring
		}
		if rt.identity.isLogout(method) {
			wants |= wantsLogout
		}
		return true
	})
	if !isRPC {
		rt.metrics.passedNotRPC.Inc()
		return 0
	}
	rt.metrics.callsSeen.Add(float64(seen))
	return wants
}

// isManagement reports whether method belongs to the management service (`<service>.<op>` as service call).
func (rt *handlerState) isManagement(method string) bool {
	if rt.management == "" {
		return false
	}
	sc := matcher.ServiceCall(method)
	return len(sc) > len(rt.management) && sc[len(rt.management)] == '.' && strings.HasPrefix(sc, rt.management)
}

// serveObserved handles a body in which something may fire or be answered locally.
func (h *Handler) serveObserved(w http.ResponseWriter, r *http.Request, next caddyhttp.Handler, body []byte, wants int) error {
	rt := &h.rt
	// The request's copies are reserved before they are made; without room, nothing here fires (fail open).
	mem := &callMemory{budget: rt.app.budget}
	defer mem.release()
	if wants&wantsFiring != 0 && !mem.take(requestCost(len(body))) {
		rt.metrics.passedMemoryBudget.Inc()
		if wants &^= wantsFiring; wants == 0 {
			return next.ServeHTTP(w, r)
		}
		mem = nil
	}
	req, err := proxy.ParseVisited(body, rt.nesting) // scan (VisitMethods) has validated body
	if err != nil {
		if errors.Is(err, proxy.ErrAmbiguousCall) {
			// Upstream and sidehook could read different calls: neither fire nor answer, pass it all through.
			rt.metrics.passedAmbiguous.Inc()
		}
		return next.ServeHTTP(w, r)
	}
	if wants&wantsLogout != 0 {
		if lw := rt.watchLogouts(w, req); lw != nil {
			w = lw
			defer lw.finish()
		}
	}
	if wants&wantsManagement != 0 {
		return h.serveManaged(w, r, next, req, mem)
	}
	if mem == nil {
		// The budget refused the request's copies: only the logout watch is left to do, and it is in place.
		return next.ServeHTTP(w, r)
	}
	plan := rt.planFirings(r, next, req, nil)
	if plan == nil {
		return next.ServeHTTP(w, r)
	}
	return h.holdFireRelease(w, r, next, req, plan, mem, nil)
}

// firingPlan says, for each leaf call of a request, which subscriptions fire and for whom.
type firingPlan struct {
	subs [][]*matcher.Subscription
	ids  []matcher.Identity

	// oneSubs and oneID back subs and ids for a request of one call, the common case, so that its plan is a
	// single allocation.
	oneSubs [1][]*matcher.Subscription
	oneID   [1]matcher.Identity
}

// newFiringPlan returns an empty plan for a request of calls leaf calls.
func newFiringPlan(calls int) *firingPlan {
	p := &firingPlan{}
	if calls == 1 {
		p.subs, p.ids = p.oneSubs[:], p.oneID[:]
		return p
	}
	p.subs, p.ids = make([][]*matcher.Subscription, calls), make([]matcher.Identity, calls)
	return p
}

// planFirings matches every leaf call against the subscriptions. skip marks calls that must not fire
// (answered locally). It returns nil when nothing fires, so the caller can stream the response untouched.
func (rt *handlerState) planFirings(r *http.Request, next caddyhttp.Handler, req *proxy.Request, skip []bool) *firingPlan {
	idx := rt.store.Index()
	var plan *firingPlan
	for i, c := range req.Calls {
		if (skip != nil && skip[i]) || (c.Notification && !rt.fireNotifications) || !idx.Any(c.Method) || rt.neverFire.Match(c.Method) {
			continue
		}
		// An unauthenticated caller keeps the empty identity: it fires only static subscriptions without a client.
		id, _ := rt.identity.identify(r, c.Params, next)
		subs := idx.Match(c.Method, id, rt.fanout, nil)
		if len(subs) == 0 {
			continue
		}
		if plan == nil {
			plan = newFiringPlan(len(req.Calls))
		}
		plan.subs[i], plan.ids[i] = subs, id
		rt.metrics.callsMatched.Inc()
	}
	return plan
}

func isUpgrade(r *http.Request) bool {
	return r.Header.Get("Upgrade") != "" || strings.EqualFold(r.Header.Get("Connection"), "upgrade")
}
