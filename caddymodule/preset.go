package caddymodule

// presetOTYS is the only preset: what an OTYS OWS deployment needs (docs/configuration.md#the-otys-preset).
const presetOTYS = "otys"

// otysNeverFire are the OWS calls that carry credentials or only check a session: never stored, never fired.
// The one-segment names cover their namespaced forms too (`Otys.Services.login`, which OWS accepts as well as
// `login`): see matcher.PatternSet.
var otysNeverFire = []string{"login", "loginByUid", "loginAs", "logout", "check", "*.loginUser"}

// otysLogout are the OWS calls that end a session: `logout` and its namespaced forms (Otys.Services.logout,
// AnyService.logout). A successful one evicts the session from the identity cache at once.
var otysLogout = []string{"logout", "*.logout"}

// applyPreset fills every field the user left unset with the preset's value. It runs in Provision, after
// the whole config is read, which is what makes "each overridable by a later line" hold whatever the order of
// the lines: a field the user set is never touched. Maps merge, the user's entries winning. never_fire and a
// resolve identity's logout are the lists that add up instead: a user adding `never_fire Auth.login` cannot have
// meant to fire `login` again (its result is a fresh session, which would then be stored and sent).
func (h *Handler) applyPreset() {
	if h.Preset != presetOTYS {
		return
	}
	if h.SessionParam == nil {
		zero := 0
		h.SessionParam = &zero
	}
	if h.Identity == nil {
		h.Identity = &IdentityConfig{Resolve: &ResolveConfig{Method: "check", Client: "clientId", User: "id"}}
	}
	if rc := h.Identity.Resolve; rc != nil {
		// Adds up, like never_fire: evicting a session once more is never wrong (the next call asks the
		// upstream again), and a user adding `logout Auth.signOut` cannot have meant `logout` to stop evicting.
		rc.Logout = append(append([]string(nil), otysLogout...), rc.Logout...)
	}
	if h.Management == nil {
		h.Management = &ManagementConfig{Service: defaultManagementService}
	}
	h.NeverFire = append(append([]string(nil), otysNeverFire...), h.NeverFire...)
	if _, ok := h.Multicall["Otys.Services.MultiService.execute"]; !ok {
		if h.Multicall == nil {
			h.Multicall = map[string]string{}
		}
		h.Multicall["Otys.Services.MultiService.execute"] = "otys"
	}
	if _, ok := h.Wrapper["Otys.Services.LanguageService.wrapRequest"]; !ok {
		if h.Wrapper == nil {
			h.Wrapper = map[string]int{}
		}
		h.Wrapper["Otys.Services.LanguageService.wrapRequest"] = 1
	}
	if h.Fanout == "" {
		h.Fanout = "one"
	}
	if h.Payload == "" {
		h.Payload = "otys"
	}
}
