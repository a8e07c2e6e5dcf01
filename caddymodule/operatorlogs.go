package caddymodule

import "strings"

// staticUIDPrefix starts the uid of every `subscribe` subscription (compileStatic) and of no other: dynamic
// uids are random hex. The prefix is what lets a log item tell, long after the Caddyfile line that made it
// was removed, that it belongs to the operator.
const staticUIDPrefix = "static_"

// operatorOnly reports whether the log items of subscription uid belong to the operator alone. A static
// subscription is the operator's even when its `client` names a tenant (so that the tenant's calls fire it):
// its URL may carry the operator's token, its receiver's answers are the operator's, and a replay goes to the
// operator's endpoint. Such items are shown and retried through the admin API only, never through the
// management calls, whoever makes them.
func (rt *handlerState) operatorOnly(uid string) bool {
	if strings.HasPrefix(uid, staticUIDPrefix) {
		return true
	}
	sub, ok := rt.store.Index().Get(uid)
	return ok && sub.Static
}
