package caddymodule

import "github.com/sidehook/sidehook/matcher"

// operatorOnly reports whether the log items of subscription uid belong to the operator alone. A static
// subscription is the operator's even when its `client` names a tenant (so that the tenant's calls fire it):
// its URL may carry the operator's token, its receiver's answers are the operator's, and a replay goes to the
// operator's endpoint. Such items are shown and retried through the admin API only, never through the
// management calls, whoever makes them.
func (rt *handlerState) operatorOnly(uid string) bool {
	// The uid alone tells a static subscription's items apart, even once its Caddyfile line was removed.
	if matcher.IsStaticUID(uid) {
		return true
	}
	sub, ok := rt.store.Index().Get(uid)
	return ok && sub.Static
}
