package matcher

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"time"
)

// Add stores a new dynamic subscription and returns it (a copy: the stored one is shared). It
// sets UID when empty, Created when zero and Secret when empty; the pattern and a given secret
// are validated (errors wrap ErrInvalidPattern, ErrInvalidSecret). The webhook URL is the
// caller's to validate.
func (s *Store) Add(ctx context.Context, sub Subscription) (*Subscription, error) {
	if err := ValidatePattern(sub.ServiceCall); err != nil {
		return nil, fmt.Errorf("add subscription: %w", err)
	}
	if sub.Secret == "" {
		secret, err := NewSecret()
		if err != nil {
			return nil, fmt.Errorf("add subscription: %w", err)
		}
		sub.Secret = secret
	} else if err := ValidateSecret(sub.Secret); err != nil {
		return nil, fmt.Errorf("add subscription: %w", err)
	}
	if sub.UID == "" {
		uid, err := NewUID()
		if err != nil {
			return nil, fmt.Errorf("add subscription: %w", err)
		}
		sub.UID = uid
	} else if !validUID(sub.UID) {
		return nil, fmt.Errorf("add subscription: uid %q: want lowercase letters, digits, - and _", sub.UID)
	}
	if sub.Created.IsZero() {
		sub.Created = s.now().UTC().Round(0) // no monotonic reading: it would not survive storage
	}
	sub.Static = false
	stored := &sub

	s.mu.Lock()
	defer s.mu.Unlock()
	if s.dynamic[sub.UID] != nil || s.static[sub.UID] != nil {
		return nil, fmt.Errorf("add subscription %s: %w", sub.UID, ErrExists)
	}
	if err := s.writeLocked(ctx, func(ctx context.Context) error { return s.storeSubscription(ctx, stored) }); err != nil {
		return nil, fmt.Errorf("add subscription %s: %w", sub.UID, err)
	}
	s.dynamic[sub.UID] = stored
	s.publishLocked()
	return stored.clone(), nil
}

// Update changes the pattern, URL and klantGlobal of one of client's subscriptions.
func (s *Store) Update(ctx context.Context, client, uid string, serviceCall, webhookURL string, klantGlobal bool) error {
	if err := ValidatePattern(serviceCall); err != nil {
		return fmt.Errorf("update subscription %s: %w", uid, err)
	}
	return s.replace(ctx, client, uid, "update", func(sub *Subscription) {
		sub.ServiceCall, sub.WebhookURL, sub.KlantGlobal = serviceCall, webhookURL, klantGlobal
	})
}

// Changes are the fields of an update that were given; nil ones keep their stored value.
type Changes struct {
	ServiceCall, WebhookURL *string
	KlantGlobal             *bool
}

// Change applies the given fields to one of client's subscriptions as storage holds it, so that fields left
// out keep the values another instance may have written since this one last polled.
func (s *Store) Change(ctx context.Context, client, uid string, c Changes) error {
	if c.ServiceCall != nil {
		if err := ValidatePattern(*c.ServiceCall); err != nil {
			return fmt.Errorf("update subscription %s: %w", uid, err)
		}
	}
	return s.replace(ctx, client, uid, "update", func(sub *Subscription) {
		if c.ServiceCall != nil {
			sub.ServiceCall = *c.ServiceCall
		}
		if c.WebhookURL != nil {
			sub.WebhookURL = *c.WebhookURL
		}
		if c.KlantGlobal != nil {
			sub.KlantGlobal = *c.KlantGlobal
		}
	})
}

// RotateSecret gives one of client's subscriptions a new secret and returns it. The old secret
// keeps signing beside the new one for grace (none when grace <= 0), so the receiver can switch
// without rejecting deliveries.
func (s *Store) RotateSecret(ctx context.Context, client, uid string, grace time.Duration) (string, error) {
	secret, err := NewSecret()
	if err != nil {
		return "", fmt.Errorf("rotate secret of %s: %w", uid, err)
	}
	now := s.now()
	err = s.replace(ctx, client, uid, "rotate secret of", func(sub *Subscription) {
		sub.PreviousSecret, sub.PreviousSecretUntil = "", time.Time{}
		if grace > 0 {
			sub.PreviousSecret, sub.PreviousSecretUntil = sub.Secret, now.Add(grace).UTC().Round(0)
		}
		sub.Secret = secret
	})
	if err != nil {
		return "", err
	}
	return secret, nil
}

// Delete removes one of client's subscriptions. Ownership is checked against what storage holds, under the
// storage lock, so a subscription added through another instance can be deleted before this one has polled.
func (s *Store) Delete(ctx context.Context, client, uid string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.static[uid] != nil {
		_, err := s.ownedLocked(client, uid)
		return fmt.Errorf("delete subscription %s: %w", uid, err)
	}
	err := s.writeLocked(ctx, func(ctx context.Context) error {
		if _, err := s.loadStored(ctx, uid, ownedBy(client)); err != nil {
			return err
		}
		if err := s.storage.Delete(ctx, s.keys.subscription(uid)); err != nil {
			return fmt.Errorf("delete object: %w", err)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("delete subscription %s: %w", uid, err)
	}
	delete(s.dynamic, uid)
	s.publishLocked()
	return nil
}

// Disable stops a subscription from firing because its receiver answered 410 Gone. The delivery
// side calls it, not a client, so it works on any client's subscription, static ones included:
// those cannot be written, so their state is kept in memory and under static-disabled/ in storage,
// where a restart and the other instances find it.
func (s *Store) Disable(ctx context.Context, uid string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if st := s.static[uid]; st != nil {
		if s.staticDisabled[uid] || st.Disabled {
			return nil
		}
		s.staticDisabled[uid] = true // kept even if storage fails: this instance stops at once
		s.publishLocked()
		err := s.writeLocked(ctx, func(ctx context.Context) error {
			if err := s.storage.Store(ctx, s.keys.staticDisabled(uid), []byte(s.now().UTC().Format(time.RFC3339))); err != nil {
				return fmt.Errorf("write marker: %w", err)
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("disable static subscription %s: %w", uid, err)
		}
		return nil
	}
	if current := s.dynamic[uid]; current != nil && current.Disabled {
		return nil
	}
	return s.rewriteLocked(ctx, uid, anyClient, "disable", func(sub *Subscription) { sub.Disabled = true })
}

// replace applies change to one of client's dynamic subscriptions; the static ones are read-only.
func (s *Store) replace(ctx context.Context, client, uid, action string, change func(*Subscription)) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.static[uid] != nil {
		_, err := s.ownedLocked(client, uid)
		return fmt.Errorf("%s subscription %s: %w", action, uid, err)
	}
	return s.rewriteLocked(ctx, uid, ownedBy(client), action, change)
}

// rewriteLocked applies change to the subscription as storage holds it, read and written under the storage
// lock, and publishes the result, if owner accepts it. Changing this instance's copy instead
// would undo whatever another instance changed since this one last polled (a lost update), and would answer
// "not found" for a subscription added elsewhere a moment ago. s.mu must be held.
func (s *Store) rewriteLocked(ctx context.Context, uid string, owner func(*Subscription) bool, action string, change func(*Subscription)) error {
	var next *Subscription
	err := s.writeLocked(ctx, func(ctx context.Context) error {
		current, err := s.loadStored(ctx, uid, owner)
		if err != nil {
			return err
		}
		next = current
		change(next)
		return s.storeSubscription(ctx, next)
	})
	if err != nil {
		return fmt.Errorf("%s subscription %s: %w", action, uid, err)
	}
	s.dynamic[uid] = next
	s.publishLocked()
	return nil
}

// loadStored reads one dynamic subscription from storage, a private copy. A missing one, or one owner does not
// accept, is ErrNotFound; every error it returns leaves storage unchanged.
func (s *Store) loadStored(ctx context.Context, uid string, owner func(*Subscription) bool) (*Subscription, error) {
	data, err := s.storage.Load(ctx, s.keys.subscription(uid))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, unchanged{ErrNotFound}
	}
	if err != nil {
		return nil, unchanged{fmt.Errorf("load object: %w", err)}
	}
	sub := new(Subscription)
	if err := json.Unmarshal(data, sub); err != nil {
		return nil, unchanged{fmt.Errorf("decode object: %w", err)}
	}
	sub.UID, sub.Static = uid, false
	if !owner(sub) {
		return nil, unchanged{ErrNotFound}
	}
	return sub, nil
}

// ownedBy accepts the subscriptions of client; anyClient accepts all (the delivery side's Disable).
func ownedBy(client string) func(*Subscription) bool {
	return func(sub *Subscription) bool { return sub.ClientID == client }
}

func anyClient(*Subscription) bool { return true }

// unchanged marks an error found before anything was written, so writeLocked knows storage is as it was.
type unchanged struct{ error }

func (u unchanged) Unwrap() error { return u.error }

// ownedLocked returns client's dynamic subscription uid: ErrReadOnly for client's own static one,
// ErrNotFound when there is none or it is another client's.
func (s *Store) ownedLocked(client, uid string) (*Subscription, error) {
	if st := s.static[uid]; st != nil {
		if st.ClientID == client {
			return nil, ErrReadOnly
		}
		return nil, ErrNotFound
	}
	sub := s.dynamic[uid]
	if sub == nil || sub.ClientID != client {
		return nil, ErrNotFound
	}
	return sub, nil
}

// storeSubscription writes sub's object.
func (s *Store) storeSubscription(ctx context.Context, sub *Subscription) error {
	data, err := json.Marshal(sub)
	if err != nil {
		return fmt.Errorf("encode: %w", err)
	}
	if err := s.storage.Store(ctx, s.keys.subscription(sub.UID), data); err != nil {
		return fmt.Errorf("write object: %w", err)
	}
	return nil
}
