// Package matcher holds sidehook's subscriptions: the model, the patterns they listen to, the
// immutable index that answers "which subscriptions fire for this call and identity" on the hot
// path without locks or allocations, and the store that keeps them in Caddy storage so every
// instance sharing that storage sees the same set.
package matcher

import (
	"fmt"
	"time"
)

// Identity is the caller of a call: OTYS's (klantid, userid). Both are empty when no identity is
// configured, which then matches subscriptions stored with an empty client.
type Identity struct{ Client, User string }

// Fanout decides what happens when several subscriptions of one client match the same call.
type Fanout int

const (
	// FanoutAll fires every matching subscription.
	FanoutAll Fanout = iota
	// FanoutOne is the OTYS rule: one call fires at most one subscription per client, the
	// user-specific one preferred, then the most specific pattern, then the oldest (Index.Match
	// has the details). OTYS does this so that a developer's test webhook replaces the production
	// one for that developer's own calls only, and so that a client subscribed to a call under
	// several patterns gets it once.
	FanoutOne
)

// String returns the Caddyfile spelling of f.
func (f Fanout) String() string {
	switch f {
	case FanoutAll:
		return "all"
	case FanoutOne:
		return "one"
	default:
		return fmt.Sprintf("Fanout(%d)", int(f))
	}
}

var _ fmt.Stringer = FanoutAll

// ParseFanout reads the Caddyfile spelling ("all" or "one").
func ParseFanout(s string) (Fanout, error) {
	switch s {
	case "all":
		return FanoutAll, nil
	case "one":
		return FanoutOne, nil
	default:
		return FanoutAll, fmt.Errorf("fanout %q: want all or one", s)
	}
}

// Subscription is one webhook. JSON field names are the OTYS ones (docs/payloads.md#getlist).
//
// A *Subscription reachable from an Index is shared and must be treated as read-only: the Store
// replaces subscriptions instead of changing them, which is what lets readers go without locks.
type Subscription struct {
	UID         string    `json:"uid"`
	ServiceCall string    `json:"serviceCall"` // a pattern
	WebhookURL  string    `json:"webhookUrl"`
	ClientID    string    `json:"klantid"`
	UserID      string    `json:"userid"`
	KlantGlobal bool      `json:"klantGlobal"`
	Secret      string    `json:"secret"`
	Disabled    bool      `json:"disabled"`
	Created     time.Time `json:"created"`
	// PreviousSecret keeps signing beside Secret until PreviousSecretUntil, so receivers have
	// time to switch after a rotation.
	PreviousSecret      string    `json:"previousSecret,omitempty"`
	PreviousSecretUntil time.Time `json:"previousSecretUntil,omitempty,omitzero"`
	// Static marks a subscription from the Caddyfile: read-only, never stored.
	Static bool `json:"-"`
}

// SigningSecrets returns the secrets a delivery made at now is signed with: Secret, then
// PreviousSecret while now < PreviousSecretUntil.
func (s *Subscription) SigningSecrets(now time.Time) []string {
	if s.PreviousSecret != "" && now.Before(s.PreviousSecretUntil) {
		return []string{s.Secret, s.PreviousSecret}
	}
	return []string{s.Secret}
}

// clone returns a shallow copy; all fields are values, so it is a full copy.
func (s *Subscription) clone() *Subscription {
	c := *s
	return &c
}

// userSpecificFor reports whether s fires for id because of id's user rather than for every user
// of the client: the subscription FanoutOne prefers. A static subscription without a client fires
// for every identity, so it is never user-specific, whatever its UserID.
func (s *Subscription) userSpecificFor(id Identity) bool {
	if s.Static {
		return s.ClientID != "" && s.UserID != "" && s.UserID == id.User
	}
	return !s.KlantGlobal && s.UserID == id.User
}

// olderThan orders subscriptions by (Created, UID): the "oldest" of FanoutOne and the order of
// Index.All.
func (s *Subscription) olderThan(o *Subscription) bool {
	if !s.Created.Equal(o.Created) {
		return s.Created.Before(o.Created)
	}
	return s.UID < o.UID
}
