package caddymodule

import (
	"errors"
	"fmt"

	"github.com/sidehook/sidehook/matcher"
	"github.com/sidehook/sidehook/proxy"
)

// The checks of config values that both configuration paths make live here, once each: the Caddyfile parser
// calls them to point at the offending line, Provision calls them because a JSON config never went through
// the parser. Two copies of a check drift apart, and a value one path accepts the other would then refuse.

// payloadBuilder returns the webhook body builder the `payload` value names. The empty value is the
// default, otys, as it is when the JSON config omits the field.
func payloadBuilder(name string) (func(proxy.Envelope, *proxy.Event) []byte, error) {
	switch name {
	case "", "otys":
		return proxy.OTYSPayload, nil
	case "jsonrpc":
		return proxy.JSONRPCPayload, nil
	}
	return nil, fmt.Errorf("payload must be otys or jsonrpc, got %q", name)
}

// multicallShape returns the shape a `multicall` line names. Its error does not name the directive: the
// Caddyfile parser and Provision each put it in their own context.
func multicallShape(name string) (proxy.MulticallShape, error) {
	switch name {
	case "otys":
		return proxy.MulticallOTYS, nil
	case "xmlrpc":
		return proxy.MulticallXMLRPC, nil
	}
	return 0, fmt.Errorf("shape must be otys or xmlrpc, got %q", name)
}

// The checks of a `subscribe` line as written. A URL or secret holding a runtime placeholder ({env.NAME},
// {file./path}) is kept as written in the config, so it can only be checked once the placeholder is replaced,
// at provision (compileStatic); everything else the Caddyfile parser refuses already, on its line. Their
// errors do not name the subscription: the parser has a line number for that, Provision the pattern and URL.

// errSecretRequired: a delivery its receiver cannot verify would invite anyone to post forged events to it.
var errSecretRequired = errors.New("a secret (whsec_…) is required so receivers can verify deliveries")

// checkSubscribePattern checks a static subscription's pattern.
func checkSubscribePattern(pattern string) error {
	return matcher.ValidatePattern(pattern)
}

// checkSubscribeURL checks a static subscription's webhook URL as written.
func checkSubscribeURL(raw string) error {
	if urlHoldsPlaceholder(raw) {
		return nil
	}
	return validateWebhookURL(raw)
}

// checkSubscribeSecret checks a static subscription's signing secret as written: it is required, and well
// formed unless a placeholder gives it.
func checkSubscribeSecret(secret string) error {
	if secret == "" {
		return errSecretRequired
	}
	if holdsPlaceholder(secret) {
		return nil
	}
	if err := matcher.ValidateSecret(secret); err != nil {
		return fmt.Errorf("secret: %w", err)
	}
	return nil
}
