package caddymodule

import (
	"encoding/json"
	"errors"
	"fmt"

	"go.uber.org/zap"

	"github.com/sidehook/sidehook/matcher"
	"github.com/sidehook/sidehook/proxy"
)

// JSON-RPC error codes of the management API. -32001 and its message are OTYS's own.
const (
	codeAccessDenied   = -32001
	codeNotFound       = -32004
	codeReadOnly       = -32005
	codeMethodNotFound = -32601
	codeInvalidParams  = -32602
	codeInternal       = -32603
)

// accessDeniedMessage is OTYS's own wording, kept so that clients written against OTYS recognise it.
const accessDeniedMessage = "Access denied; please login first"

// storeError maps a subscription-store failure to the answer the client sees: not found and read-only are the
// caller's to fix and say so; anything else is logged here and answered without internals.
func (rt *handlerState) storeError(op, uid string, err error) proxy.Answer {
	switch {
	case errors.Is(err, matcher.ErrNotFound):
		return errAnswer(codeNotFound, fmt.Sprintf("webhook %s not found", uid))
	case errors.Is(err, matcher.ErrReadOnly):
		return errAnswer(codeReadOnly, fmt.Sprintf("webhook %s is configured in the Caddyfile and is read-only", uid))
	}
	rt.logger.Error("management "+op+" failed", zap.String("uid", uid), zap.Error(err))
	return errAnswer(codeInternal, op+" failed: subscription storage unavailable")
}

func resultAnswer(v any) proxy.Answer {
	b, err := json.Marshal(v)
	if err != nil {
		return errAnswer(codeInternal, "encoding the answer failed")
	}
	return proxy.Answer{Result: b}
}

func errAnswer(code int, msg string) proxy.Answer {
	return proxy.Answer{Code: code, Message: msg}
}
