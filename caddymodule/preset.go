package caddymodule

// presetOTYS is the only preset: what an OTYS OWS deployment needs (SPEC.md section 3).
const presetOTYS = "otys"

// otysNeverFire are the OWS calls that carry credentials or only check a session: never stored, never fired.
// The one-segment names cover their namespaced forms too (`Otys.Services.login`, which OWS accepts as well as
// `login`): see matcher.PatternSet.
var otysNeverFire = []string{"login", "loginByUid", "loginAs", "logout", "check", "*.loginUser"}

// applyPreset fills every field the user left unset with the preset's value. It runs in Provision, after
// the whole config is read, which is what makes "each overridable by a later line" hold whatever the order of
// the lines: a field the user set is never touched. Maps merge, the user's entries winning. never_fire is the
// one list that adds up instead: a user adding `never_fire Auth.login` cannot have meant to fire `login` again
// (its result is a fresh session, which would then be stored and sent).
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
