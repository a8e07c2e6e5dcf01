package caddymodule

import (
	"net/http"

	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"go.uber.org/zap"

	"github.com/sidehook/sidehook/proxy"
)

// rewriteHeld looks at a response the upstream has answered into holder and returns the body the client gets
// and the events pair with. ok false means the client gets the upstream's response exactly as it is and
// nothing fires (a management answer that cannot be merged, for instance).
type rewriteHeld func(holder *proxy.Holder) (body []byte, ok bool)

// holdFireRelease sends r upstream with the response held, turns it into events, stores them and only then
// lets the response go to the client: storing before releasing is the at-least-once promise. Both request
// paths (plain firing calls and requests mixing management calls) go through here so that the guarantees
// around it are kept in one place:
//   - the held response's memory budget is given back on every path, panics included (ReleaseOnPanic writes
//     what is held to the client and re-panics);
//   - while events may still be stored, the queue is held in use, so a config reload that happens meanwhile
//     cannot close it under the call;
//   - the copies events will need are reserved before the upstream answers.
//
// plan is nil when nothing may fire (no match, or no memory for the request's copies): the response is still
// held when rewrite needs it whole. rewrite nil keeps the held body as it is and fires whenever the upstream
// answered; otherwise its body is fired and replaces the held one.
func (h *Handler) holdFireRelease(w http.ResponseWriter, r *http.Request, next caddyhttp.Handler, req *proxy.Request, plan *firingPlan, mem *callMemory, rewrite rewriteHeld) error {
	rt := &h.rt
	var held heldQueue
	if plan != nil {
		held = rt.holdQueue() // the events are stored after the upstream answers, maybe after a reload
		defer held.release()
	}
	holder := proxy.NewHolder(w, rt.maxBody, rt.app.budget)
	defer holder.ReleaseOnPanic() // an aborted response still reaches the client as it stands and frees its budget
	if plan != nil {
		holder.ReserveForCopies(plan.copiesPerResponseByte())
	}
	err := next.ServeHTTP(holder, r)
	if rewrite == nil {
		if plan != nil && (err == nil || holder.Status() != 0) {
			rt.fireHeld(r, req, plan, holder, nil, mem, held)
		}
	} else {
		body, ok := rewrite(holder)
		if !ok {
			_ = holder.Release()
			return err
		}
		if plan != nil {
			rt.fireHeld(r, req, plan, holder, body, mem, held)
		}
		holder.ReplaceBody(body)
	}
	if relErr := holder.Release(); relErr != nil {
		rt.logger.Debug("releasing held response", zap.Error(relErr))
	}
	return err
}
