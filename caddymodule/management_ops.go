package caddymodule

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"github.com/tidwall/gjson"
	"go.uber.org/zap"

	"github.com/sidehook/sidehook/matcher"
	"github.com/sidehook/sidehook/proxy"
	"github.com/sidehook/sidehook/queue"
)

// The management ops (getList, add, update, delete, getLogs, rotateSecret, retry): each one reads its params,
// acts on the subscription store or the delivery queue for the caller's client, and returns its JSON-RPC answer.
// How those answers travel with the upstream's is management_split.go; their error codes are management_errors.go.

const (
	rotationGrace     = 24 * time.Hour
	maxLogsPerCall    = 1000
	managementTimeout = 30 * time.Second
)

// manage answers one management call.
func (rt *handlerState) manage(r *http.Request, next caddyhttp.Handler, c proxy.Call) proxy.Answer {
	id, ok := rt.identity.identify(r, c.Params, next)
	if !ok || id.Client == "" {
		return errAnswer(codeAccessDenied, accessDeniedMessage)
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), managementTimeout)
	defer cancel()
	params := gjson.ParseBytes(c.Params)
	op := c.Method[strings.LastIndexByte(c.Method, '.')+1:]
	switch op {
	case "getList":
		return rt.opGetList(id)
	case "add":
		return rt.opAdd(ctx, id, params.Get("1"))
	case "update":
		return rt.opUpdate(ctx, id, params.Get("1"), params.Get("2"))
	case "delete":
		return rt.opDelete(ctx, id, params.Get("1"))
	case "getLogs":
		return rt.opGetLogs(id, params.Get("1"))
	case "rotateSecret":
		return rt.opRotateSecret(ctx, id, params.Get("1"))
	case "retry":
		return rt.opRetry(id, params.Get("1"))
	default:
		return errAnswer(codeMethodNotFound, fmt.Sprintf("%s.%s does not exist; known: getList, add, update, delete, getLogs, rotateSecret, retry", rt.management, op))
	}
}

// subscriptionView is a subscription as getList shows it: the OTYS fields and nothing else.
type subscriptionView struct {
	UID         string `json:"uid"`
	ServiceCall string `json:"serviceCall"`
	WebhookURL  string `json:"webhookUrl"`
	ClientID    string `json:"klantid"`
	UserID      string `json:"userid"`
	KlantGlobal bool   `json:"klantGlobal"`
	Secret      string `json:"secret"`
	Disabled    bool   `json:"disabled"`
	Created     string `json:"created"`
}

func viewOf(s *matcher.Subscription) subscriptionView {
	v := subscriptionView{
		UID: s.UID, ServiceCall: s.ServiceCall, WebhookURL: s.WebhookURL, ClientID: s.ClientID, UserID: s.UserID,
		KlantGlobal: s.KlantGlobal, Secret: s.Secret, Disabled: s.Disabled,
	}
	if !s.Created.IsZero() {
		v.Created = s.Created.UTC().Format(time.DateTime)
	}
	return v
}

func (rt *handlerState) opGetList(id matcher.Identity) proxy.Answer {
	subs := rt.store.List(id.Client)
	views := make([]subscriptionView, 0, len(subs))
	for _, s := range subs {
		views = append(views, viewOf(s))
	}
	return resultAnswer(views)
}

// subscriptionFields is the object of add and update.
type subscriptionFields struct {
	serviceCall, webhookURL, secret string
	klantGlobal                     bool
	has                             map[string]bool
}

// parseFields checks the object of add/update, found at params[param] (named in the error, since add and update
// carry it at different places); required lists the fields that must be there.
func (rt *handlerState) parseFields(ctx context.Context, obj gjson.Result, param int, required ...string) (subscriptionFields, *proxy.Answer) {
	f := subscriptionFields{klantGlobal: true, has: map[string]bool{}}
	if !obj.IsObject() {
		a := errAnswer(codeInvalidParams, fmt.Sprintf("params[%d] must be an object {serviceCall, webhookUrl, klantGlobal}", param))
		return f, &a
	}
	var bad *proxy.Answer
	obj.ForEach(func(k, v gjson.Result) bool {
		fail := func(msg string) bool {
			a := errAnswer(codeInvalidParams, msg)
			bad = &a
			return false
		}
		f.has[k.String()] = true
		switch k.String() {
		case "serviceCall":
			if v.Type != gjson.String {
				return fail("serviceCall must be a string such as CandidateService.update")
			}
			if err := matcher.ValidatePattern(v.Str); err != nil {
				return fail("serviceCall: " + err.Error())
			}
			f.serviceCall = v.Str
		case "webhookUrl":
			if v.Type != gjson.String {
				return fail("webhookUrl must be a string")
			}
			if err := validateWebhookURL(v.Str); err != nil {
				return fail(err.Error())
			}
			if err := queue.CheckDestination(ctx, mergeFieldPlaceholder.Replace(v.Str), rt.delivery.AllowDestination, rt.delivery.LookupIP); err != nil {
				return fail("webhookUrl: " + err.Error())
			}
			f.webhookURL = v.Str
		case "klantGlobal":
			switch {
			case v.Type == gjson.True || v.Str == "true":
				f.klantGlobal = true
			case v.Type == gjson.False || v.Str == "false":
				f.klantGlobal = false
			default:
				return fail(`klantGlobal must be true, false, "true" or "false"`)
			}
		case "secret":
			if v.Type != gjson.String {
				return fail("secret must be a string whsec_…")
			}
			if err := matcher.ValidateSecret(v.Str); err != nil {
				return fail("secret: " + err.Error())
			}
			f.secret = v.Str
		default:
			return fail(fmt.Sprintf("unknown field %q (known: serviceCall, webhookUrl, klantGlobal, secret)", k.String()))
		}
		return true
	})
	if bad != nil {
		return f, bad
	}
	for _, name := range required {
		if !f.has[name] {
			a := errAnswer(codeInvalidParams, "missing field "+name)
			return f, &a
		}
	}
	return f, nil
}

func (rt *handlerState) opAdd(ctx context.Context, id matcher.Identity, obj gjson.Result) proxy.Answer {
	f, bad := rt.parseFields(ctx, obj, 1, "serviceCall", "webhookUrl")
	if bad != nil {
		return *bad
	}
	sub, err := rt.store.Add(ctx, matcher.Subscription{
		ServiceCall: f.serviceCall, WebhookURL: f.webhookURL, ClientID: id.Client, UserID: id.User,
		KlantGlobal: f.klantGlobal, Secret: f.secret,
	})
	if err != nil {
		return rt.storeError("add", "", err)
	}
	return resultAnswer(sub.UID)
}

func (rt *handlerState) opUpdate(ctx context.Context, id matcher.Identity, uid, obj gjson.Result) proxy.Answer {
	if !uid.Exists() || uid.String() == "" {
		return errAnswer(codeInvalidParams, "params[1] must be the webhook uid")
	}
	f, bad := rt.parseFields(ctx, obj, 2)
	if bad != nil {
		return *bad
	}
	if f.has["secret"] {
		return errAnswer(codeInvalidParams, "secret cannot be updated; use rotateSecret")
	}
	var c matcher.Changes
	if f.has["serviceCall"] {
		c.ServiceCall = &f.serviceCall
	}
	if f.has["webhookUrl"] {
		c.WebhookURL = &f.webhookURL
	}
	if f.has["klantGlobal"] {
		c.KlantGlobal = &f.klantGlobal
	}
	// The store applies only the given fields to what storage holds: another instance may have changed the
	// others since this one last polled.
	if err := rt.store.Change(ctx, id.Client, uid.String(), c); err != nil {
		return rt.storeError("update", uid.String(), err)
	}
	return resultAnswer([]any{})
}

func (rt *handlerState) opDelete(ctx context.Context, id matcher.Identity, uid gjson.Result) proxy.Answer {
	if !uid.Exists() || uid.String() == "" {
		return errAnswer(codeInvalidParams, "params[1] must be the webhook uid")
	}
	if err := rt.store.Delete(ctx, id.Client, uid.String()); err != nil {
		return rt.storeError("delete", uid.String(), err)
	}
	return resultAnswer(true)
}

func (rt *handlerState) opRotateSecret(ctx context.Context, id matcher.Identity, uid gjson.Result) proxy.Answer {
	if !uid.Exists() || uid.String() == "" {
		return errAnswer(codeInvalidParams, "params[1] must be the webhook uid")
	}
	secret, err := rt.store.RotateSecret(ctx, id.Client, uid.String(), rotationGrace)
	if err != nil {
		return rt.storeError("rotateSecret", uid.String(), err)
	}
	return resultAnswer(secret)
}

func (rt *handlerState) opGetLogs(id matcher.Identity, n gjson.Result) proxy.Answer {
	limit := 10
	if n.Exists() && n.Type != gjson.Null {
		if n.Type != gjson.Number || n.Int() < 1 {
			return errAnswer(codeInvalidParams, "params[1] (how many log items) must be a number >= 1")
		}
		limit = int(min(n.Int(), maxLogsPerCall))
	}
	entry, release, err := rt.app.useQueue(rt.queueDir)
	if err != nil {
		return errAnswer(codeInternal, "delivery log unavailable")
	}
	defer release()
	items, err := entry.q.Logs(queue.LogQuery{ClientID: id.Client, Limit: limit, Hide: rt.operatorOnly})
	if err != nil {
		rt.logger.Error("reading delivery logs", zap.Error(err))
		return errAnswer(codeInternal, "delivery log unavailable")
	}
	if items == nil {
		items = []queue.LogItem{}
	}
	return resultAnswer(items)
}

func (rt *handlerState) opRetry(id matcher.Identity, logID gjson.Result) proxy.Answer {
	if logID.Type != gjson.String || logID.Str == "" {
		return errAnswer(codeInvalidParams, "params[1] must be a log item id")
	}
	entry, release, err := rt.app.useQueue(rt.queueDir)
	if err != nil {
		return errAnswer(codeInternal, "delivery queue unavailable")
	}
	defer release()
	item, found, err := entry.q.Log(logID.Str)
	if err != nil {
		return errAnswer(codeInternal, "delivery log unavailable")
	}
	if !found || item.ClientID != id.Client || rt.operatorOnly(item.SubscriptionUID) {
		return errAnswer(codeNotFound, fmt.Sprintf("log item %s not found", logID.Str))
	}
	if answer, refused := rt.refuseRetryOfDeletedSubscription(item); refused {
		return answer
	}
	if err := entry.q.Retry(logID.Str); err != nil {
		if errors.Is(err, queue.ErrNotFound) {
			return errAnswer(codeNotFound, fmt.Sprintf("log item %s not found", logID.Str))
		}
		return errAnswer(codeInvalidParams, err.Error())
	}
	return resultAnswer(true)
}
