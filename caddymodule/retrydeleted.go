package caddymodule

import (
	"fmt"

	"github.com/sidehook/sidehook/proxy"
	"github.com/sidehook/sidehook/queue"
)

// refuseRetryOfDeletedSubscription answers a management retry whose log item belongs to a subscription that no
// longer exists. Queueing it again would answer `true` for a delivery that can never happen: the worker finds
// no secret to sign with and ends the item as gone. The caller is told instead, with the same code as any other
// unknown webhook, and the item is left as it is.
func (rt *handlerState) refuseRetryOfDeletedSubscription(item queue.LogItem) (proxy.Answer, bool) {
	if _, exists := rt.store.Index().Get(item.SubscriptionUID); exists {
		return proxy.Answer{}, false
	}
	return errAnswer(codeNotFound, fmt.Sprintf("webhook %s of log item %s was deleted; its events can no longer be delivered", item.SubscriptionUID, item.ID)), true
}
