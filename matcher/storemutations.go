package matcher

import (
	"context"
	"encoding/json"
	"fmt"
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

// Delete removes one of client's subscriptions.
func (s *Store) Delete(ctx context.Context, client, uid string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, err := s.ownedLocked(client, uid); err != nil {
		return fmt.Errorf("delete subscription %s: %w", uid, err)
	}
	err := s.writeLocked(ctx, func(ctx context.Context) error {
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
	current := s.dynamic[uid]
	if current == nil {
		return fmt.Errorf("disable subscription %s: %w", uid, ErrNotFound)
	}
	if current.Disabled {
		return nil
	}
	next := current.clone()
	next.Disabled = true
	return s.commitReplacementLocked(ctx, next, "disable")
}

// replace applies change to a copy of one of client's dynamic subscriptions and stores it.
func (s *Store) replace(ctx context.Context, client, uid, action string, change func(*Subscription)) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	current, err := s.ownedLocked(client, uid)
	if err != nil {
		return fmt.Errorf("%s subscription %s: %w", action, uid, err)
	}
	next := current.clone()
	change(next)
	return s.commitReplacementLocked(ctx, next, action)
}

// commitReplacementLocked stores sub in place of the subscription with its UID and publishes it.
func (s *Store) commitReplacementLocked(ctx context.Context, sub *Subscription, action string) error {
	if err := s.writeLocked(ctx, func(ctx context.Context) error { return s.storeSubscription(ctx, sub) }); err != nil {
		return fmt.Errorf("%s subscription %s: %w", action, sub.UID, err)
	}
	s.dynamic[sub.UID] = sub
	s.publishLocked()
	return nil
}

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
