package caddymodule

import (
	"fmt"
	"net/http"

	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"go.uber.org/zap"

	"github.com/sidehook/sidehook/proxy"
)

// serveManaged answers the management calls of a request locally (docs/payloads.md) and sends only the rest
// upstream; the client gets every answer, in the order of its request.
// mem is nil when the memory budget had no room for the call: then nothing fires.
func (h *Handler) serveManaged(w http.ResponseWriter, r *http.Request, next caddyhttp.Handler, req *proxy.Request, mem *callMemory) error {
	rt := &h.rt
	local := make([]bool, len(req.Calls))
	answers := make([]proxy.Answer, len(req.Calls))
	for i, c := range req.Calls {
		if local[i] = rt.isManagement(c.Method); local[i] {
			answers[i] = rt.manage(r, next, c)
		}
	}
	var plan *firingPlan
	if mem != nil {
		plan = rt.planFirings(r, next, req, local)
	}
	upstream, split := req.Split(local)

	if upstream == nil { // nothing for the upstream: answer here
		resp, err := split.Merge(nil, answers)
		if err != nil {
			return caddyhttp.Error(http.StatusInternalServerError, fmt.Errorf("sidehook: merging local answers: %w", err))
		}
		if len(resp) == 0 { // only notifications
			w.WriteHeader(http.StatusNoContent)
			return nil
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Content-Length", fmt.Sprint(len(resp)))
		w.WriteHeader(http.StatusOK)
		_, err = w.Write(resp)
		return err
	}

	setRequestBody(r, upstream)

	return h.holdFireRelease(w, r, next, req, plan, mem, func(holder *proxy.Holder) ([]byte, bool) {
		if holder.Overflowed() || holder.Status() == 0 {
			return nil, false
		}
		merged, mergeErr := rt.mergeAnswers(holder, split, answers)
		if mergeErr != nil {
			// The upstream said something we cannot merge into (an HTTP error, not JSON…): the client gets the
			// upstream's answer as it is, which is what it would have got without sidehook.
			rt.logger.Warn("management answers not merged; upstream response passed as is", zap.Error(mergeErr))
			return nil, false
		}
		return merged, true
	})
}

// mergeAnswers puts the local answers into the upstream's JSON-RPC answer, in the order of the request.
func (rt *handlerState) mergeAnswers(holder *proxy.Holder, split *proxy.Plan, answers []proxy.Answer) ([]byte, error) {
	if holder.Status()/100 != 2 {
		return nil, fmt.Errorf("upstream status %d", holder.Status())
	}
	body, err := holder.DecodedBody()
	if err != nil {
		return nil, err
	}
	return split.Merge(body, answers)
}
