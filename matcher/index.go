package matcher

import (
	"slices"
	"strings"
)

// Index is an immutable snapshot of all subscriptions, built so that matching a call costs the
// same with ten subscriptions as with ten thousand: exact patterns sit in a map keyed by pattern
// (looked up with the full method and with the service call), wildcard patterns in one map per
// shape (see shape), so a call costs one lookup per shape present. Under each pattern the enabled
// subscriptions are grouped by client, so one client's many subscriptions cost another client
// nothing. Disabled subscriptions are kept (for getList and Get) but never match.
//
// An Index is never changed after NewIndex: the Store swaps whole indexes, so readers need no
// lock. The *Subscription values it hands out are shared and must not be modified.
type Index struct {
	table patternTable[*patternSubscriptions]
	byUID map[string]*Subscription
	all   []*Subscription
}

// patternSubscriptions are the enabled subscriptions of one pattern, grouped the way Match asks
// for them, so that Match costs in proportion to what fires, not to what is stored.
type patternSubscriptions struct {
	pattern     string
	byClient    map[string]*clientSubscriptions
	everyClient *clientSubscriptions // static subscriptions without a client: they fire for everyone
}

// clientSubscriptions are one client's enabled subscriptions of one pattern: FanoutOne's group.
// Every list is oldest first, so FanoutOne's choice is the head of a list.
type clientSubscriptions struct {
	forEveryUser []*Subscription            // klantGlobal ones, and static ones without a user
	byUser       map[string][]*Subscription // those that fire only for their own user
}

// add files s, which belongs to this group, under the users it fires for.
func (c *clientSubscriptions) add(s *Subscription, everyone bool) {
	if everyone || (s.Static && s.UserID == "") || (!s.Static && s.KlantGlobal) {
		c.forEveryUser = append(c.forEveryUser, s)
		return
	}
	if c.byUser == nil {
		c.byUser = make(map[string][]*Subscription)
	}
	c.byUser[s.UserID] = append(c.byUser[s.UserID], s)
}

// appendFiring appends every subscription of the group that fires for user, user-specific ones
// first; a nil group has none.
func (c *clientSubscriptions) appendFiring(dst []*Subscription, user string) []*Subscription {
	if c == nil {
		return dst
	}
	dst = append(dst, c.byUser[user]...)
	return append(dst, c.forEveryUser...)
}

// pickOne returns the one subscription of the group FanoutOne fires for user: the oldest
// user-specific one, else the oldest for every user; nil when none fires.
func (c *clientSubscriptions) pickOne(user string) *Subscription {
	if c == nil {
		return nil
	}
	if mine := c.byUser[user]; len(mine) > 0 {
		return mine[0]
	}
	if len(c.forEveryUser) > 0 {
		return c.forEveryUser[0]
	}
	return nil
}

// NewIndex builds an index of subs. It keeps the pointers, so the caller must not modify the
// subscriptions afterwards; a later subscription with the UID of an earlier one replaces it.
func NewIndex(subs []*Subscription) *Index {
	ix := &Index{byUID: make(map[string]*Subscription, len(subs))}
	for _, s := range subs {
		if s != nil {
			ix.byUID[s.UID] = s
		}
	}
	ix.all = make([]*Subscription, 0, len(ix.byUID))
	for _, s := range ix.byUID {
		ix.all = append(ix.all, s)
	}
	slices.SortFunc(ix.all, compareAge)

	byPattern := make(map[string]*patternSubscriptions)
	for _, s := range ix.all { // oldest first, so every list below is too
		if s.Disabled {
			continue
		}
		ps := byPattern[s.ServiceCall]
		if ps == nil {
			ps = &patternSubscriptions{pattern: s.ServiceCall, byClient: make(map[string]*clientSubscriptions)}
			byPattern[s.ServiceCall] = ps
		}
		if s.Static && s.ClientID == "" {
			if ps.everyClient == nil {
				ps.everyClient = &clientSubscriptions{}
			}
			ps.everyClient.add(s, true)
			continue
		}
		group := ps.byClient[s.ClientID]
		if group == nil {
			group = &clientSubscriptions{}
			ps.byClient[s.ClientID] = group
		}
		group.add(s, false)
	}
	ix.table = newPatternTable(byPattern)
	return ix
}

// compareAge orders subscriptions oldest first: by Created, then UID.
func compareAge(a, b *Subscription) int {
	switch {
	case a.olderThan(b):
		return -1
	case b.olderThan(a):
		return 1
	default:
		return 0
	}
}

// Any reports whether some enabled subscription could fire for method, for some identity. It
// runs for every proxied call, so it neither allocates nor locks; a nil index matches nothing.
func (ix *Index) Any(method string) bool {
	if ix == nil {
		return false
	}
	return ix.table.any(method)
}

// Match appends to dst the subscriptions that fire for a call of method made by id, and returns
// the extended slice. Reusing dst lets a caller match without allocating; the cost is in
// proportion to the patterns that match and what fires, not to the number of subscriptions.
//
// With FanoutOne one call fires at most one subscription per client, however many of its
// patterns match the call (`CandidateService.update`, `Otys.Services.CandidateService.update` and
// `CandidateService.*` are three ways of asking for the same webhook). The one that fires is, in
// this order of preference:
//
//  1. one specific to id's user, over one for every user of the client;
//  2. the one with the most specific pattern (see patternSpecificity): the full method, then the
//     service call, then wildcard patterns, those with more literal segments first;
//  3. the oldest (Created, then UID).
//
// Static subscriptions without a client are the operator's, not a client's: they form a group of
// their own, so one of them fires beside the caller's client's one; for a caller without a client
// the two groups are one.
func (ix *Index) Match(method string, id Identity, f Fanout, dst []*Subscription) []*Subscription {
	if ix == nil {
		return dst
	}
	if f != FanoutOne {
		ix.table.forEach(method, func(ps *patternSubscriptions) bool {
			dst = ps.everyClient.appendFiring(dst, "")
			dst = ps.byClient[id.Client].appendFiring(dst, id.User)
			return false
		})
		return dst
	}
	var everyone, mine fanoutCandidate
	ix.table.forEach(method, func(ps *patternSubscriptions) bool {
		specificity := patternSpecificity(ps.pattern, method)
		everyone = everyone.better(fanoutCandidate{ps.everyClient.pickOne(""), specificity}, id)
		mine = mine.better(fanoutCandidate{ps.byClient[id.Client].pickOne(id.User), specificity}, id)
		return false
	})
	if id.Client == "" {
		// Static subscriptions without a client share the caller's (empty) client: one group.
		everyone, mine = fanoutCandidate{}, everyone.better(mine, id)
	}
	if everyone.sub != nil {
		dst = append(dst, everyone.sub)
	}
	if mine.sub != nil {
		dst = append(dst, mine.sub)
	}
	return dst
}

// fanoutCandidate is FanoutOne's best choice so far within one group, with the specificity of the
// pattern it came by.
type fanoutCandidate struct {
	sub         *Subscription
	specificity int
}

// better returns whichever of c and o FanoutOne fires for id (the order of Index.Match); a
// candidate without a subscription always loses.
func (c fanoutCandidate) better(o fanoutCandidate, id Identity) fanoutCandidate {
	switch {
	case o.sub == nil:
		return c
	case c.sub == nil:
		return o
	}
	if cMine, oMine := c.sub.userSpecificFor(id), o.sub.userSpecificFor(id); cMine != oMine {
		return pickIf(cMine, c, o)
	}
	if c.specificity != o.specificity {
		return pickIf(c.specificity > o.specificity, c, o)
	}
	return pickIf(!o.sub.olderThan(c.sub), c, o)
}

// pickIf returns a when first holds, else b.
func pickIf(first bool, a, b fanoutCandidate) fanoutCandidate {
	if first {
		return a
	}
	return b
}

// Specificity ranks of a pattern matching a call, higher is more specific. A wildcard pattern
// ranks by its number of literal segments, which stays far below specificityServiceCall.
const (
	specificityServiceCall = 1 << 16
	specificityFullMethod  = 1 << 17
)

// patternSpecificity says how precisely pattern, which matches method, names it: equal to the
// full method, equal to its service call, or a wildcard pattern ranked by its literal segments
// (`Otys.Services.*.update` over `CandidateService.*` over the lone `*`).
func patternSpecificity(pattern, method string) int {
	switch {
	case pattern == method:
		return specificityFullMethod
	case !strings.Contains(pattern, wildcardSegment):
		return specificityServiceCall
	default:
		return segmentCount(pattern) - strings.Count(pattern, wildcardSegment)
	}
}

// Get returns the subscription with uid, enabled or not.
func (ix *Index) Get(uid string) (*Subscription, bool) {
	if ix == nil {
		return nil, false
	}
	s, ok := ix.byUID[uid]
	return s, ok
}

// All returns every subscription, disabled ones included, oldest first (Created, then UID). The
// slice is the caller's; the subscriptions are shared and read-only.
func (ix *Index) All() []*Subscription {
	if ix == nil {
		return nil
	}
	return slices.Clone(ix.all)
}

// Len returns the number of subscriptions, disabled ones included.
func (ix *Index) Len() int {
	if ix == nil {
		return 0
	}
	return len(ix.all)
}
