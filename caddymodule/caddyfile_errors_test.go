package caddymodule

import (
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2/caddyconfig"
	_ "github.com/caddyserver/caddy/v2/modules/standard"
)

// inSidehookBlock puts lines inside `:8080 { sidehook { … } }`: line 1 is the site, line 2 `sidehook {`,
// so the first of the given lines is line 3 of the Caddyfile.
func inSidehookBlock(lines ...string) string {
	return ":8080 {\n\tsidehook {\n\t\t" + strings.Join(lines, "\n\t\t") + "\n\t}\n}\n"
}

// goodSecret is a well-formed signing secret (24+ bytes of base64 after whsec_) for cases about other lines.
const goodSecret = "whsec_c2lkZWhvb2stZGVtby1zZWNyZXQtMzItYnl0ZXMhIQ=="

// TestCaddyfileErrorsNameMessageAndLine adapts one wrong Caddyfile per error the `sidehook` parser can return
// and checks the whole error `caddy adapt` prints: the message and the file:line it points at. Every return of
// an error in caddyfile.go has a row here (and the generic checks of one-argument lines, numbers, durations
// and sizes have one row per line that uses them), so a changed message or a lost line number is caught.
func TestCaddyfileErrorsNameMessageAndLine(t *testing.T) {
	const wrongCount = "wrong argument count or unexpected line ending after "
	cases := []struct {
		name      string
		caddyfile string
		// want is what follows "parsing caddyfile tokens for 'sidehook': " in the adapter's error.
		want string
	}{
		// The directive line and its block.
		{"directive_takes_no_argument", ":8080 {\n\tsidehook now\n}\n", wrongCount + "'now', at Caddyfile:2"},
		{"unknown_subdirective", inSidehookBlock("queue_size 10"), `unknown sidehook subdirective "queue_size", at Caddyfile:3`},

		{"preset_without_name", inSidehookBlock("preset"), wrongCount + "'preset', at Caddyfile:3"},
		{"preset_with_two_names", inSidehookBlock("preset otys acme"), wrongCount + "'acme', at Caddyfile:3"},
		{"preset_with_block", inSidehookBlock("preset otys {", "\tfanout one", "}"), "otys takes no block, at Caddyfile:4"},
		{"preset_unknown", inSidehookBlock("preset acme"), `unknown preset "acme" (known: otys), at Caddyfile:3`},

		{"queue_dir_without_path", inSidehookBlock("queue_dir"), wrongCount + "'queue_dir', at Caddyfile:3"},
		{"queue_dir_with_two_paths", inSidehookBlock("queue_dir /a /b"), wrongCount + "'/b', at Caddyfile:3"},

		{"session_param_without_index", inSidehookBlock("session_param"), wrongCount + "'session_param', at Caddyfile:3"},
		{"session_param_not_a_number", inSidehookBlock("session_param first"), `session_param: want a whole number >= 0, got "first", at Caddyfile:3`},
		{"session_param_negative", inSidehookBlock("session_param -1"), `session_param: want a whole number >= 0, got "-1", at Caddyfile:3`},

		// identity { client; user; resolve <method> { client; user; ttl; logout } }
		{"identity_with_argument", inSidehookBlock("identity header {", "\tclient x", "}"), wrongCount + "'header', at Caddyfile:3"},
		{"identity_unknown_subdirective", inSidehookBlock("identity {", "\ttenant x", "}"), `unknown identity subdirective "tenant", at Caddyfile:4`},
		{"identity_client_without_value", inSidehookBlock("identity {", "\tclient", "}"), wrongCount + "'client', at Caddyfile:4"},
		{"identity_user_with_two_values", inSidehookBlock("identity {", "\tuser a b", "}"), wrongCount + "'b', at Caddyfile:4"},
		{"identity_placeholders_and_resolve", inSidehookBlock("identity {", "\tclient {http.request.header.X-Client}", "\tresolve check", "}"),
			"identity: use either client/user placeholders or resolve, not both, at Caddyfile:6"},
		{"resolve_without_method", inSidehookBlock("identity {", "\tresolve", "}"), wrongCount + "'resolve', at Caddyfile:4"},
		{"resolve_with_two_methods", inSidehookBlock("identity {", "\tresolve check whoami", "}"), wrongCount + "'whoami', at Caddyfile:4"},
		{"resolve_unknown_subdirective", inSidehookBlock("identity {", "\tresolve check {", "\t\tscope x", "\t}", "}"), `unknown resolve subdirective "scope", at Caddyfile:5`},
		{"resolve_client_without_path", inSidehookBlock("identity {", "\tresolve check {", "\t\tclient", "\t}", "}"), wrongCount + "'client', at Caddyfile:5"},
		{"resolve_user_with_two_paths", inSidehookBlock("identity {", "\tresolve check {", "\t\tuser a b", "\t}", "}"), wrongCount + "'b', at Caddyfile:5"},
		{"resolve_ttl_without_value", inSidehookBlock("identity {", "\tresolve check {", "\t\tttl", "\t}", "}"), wrongCount + "'ttl', at Caddyfile:5"},
		{"resolve_ttl_not_a_duration", inSidehookBlock("identity {", "\tresolve check {", "\t\tttl soon", "\t}", "}"), `resolve ttl: bad duration "soon", at Caddyfile:5`},
		{"resolve_ttl_zero", inSidehookBlock("identity {", "\tresolve check {", "\t\tttl 0s", "\t}", "}"), `resolve ttl: bad duration "0s", at Caddyfile:5`},
		{"resolve_logout_without_pattern", inSidehookBlock("identity {", "\tresolve check {", "\t\tlogout", "\t}", "}"), wrongCount + "'logout', at Caddyfile:5"},
		{"resolve_logout_bad_pattern", inSidehookBlock("identity {", "\tresolve check {", "\t\tlogout Otys..logout", "\t}", "}"),
			`invalid pattern "Otys..logout": segment 2 is empty, at Caddyfile:5`},

		{"management_with_two_services", inSidehookBlock("management HooksService Other"), wrongCount + "'Other', at Caddyfile:3"},

		// Patterns, one row per check of matcher.ValidatePattern a Caddyfile can reach.
		{"never_fire_without_pattern", inSidehookBlock("never_fire"), wrongCount + "'never_fire', at Caddyfile:3"},
		{"never_fire_empty_pattern", inSidehookBlock(`never_fire login ""`), "invalid pattern: empty, at Caddyfile:3"},
		{"never_fire_empty_segment", inSidehookBlock("never_fire Otys."), `invalid pattern "Otys.": segment 2 is empty, at Caddyfile:3`},
		{"never_fire_partial_wildcard", inSidehookBlock("never_fire log*"), `invalid pattern "log*": segment "log*": * must be a whole segment, at Caddyfile:3`},
		{"never_fire_whitespace", inSidehookBlock(`never_fire "log in"`), `invalid pattern "log in": contains whitespace or a control character, at Caddyfile:3`},

		{"redact_path_without_path", inSidehookBlock("redact_path"), wrongCount + "'redact_path', at Caddyfile:3"},
		{"redact_key_without_key", inSidehookBlock("redact_key"), wrongCount + "'redact_key', at Caddyfile:3"},

		{"multicall_without_shape", inSidehookBlock("multicall system.multicall"), wrongCount + "'system.multicall', at Caddyfile:3"},
		{"multicall_with_three_arguments", inSidehookBlock("multicall system.multicall xmlrpc extra"), wrongCount + "'extra', at Caddyfile:3"},
		{"multicall_unknown_shape", inSidehookBlock("multicall system.multicall json"), `multicall shape must be otys or xmlrpc, got "json", at Caddyfile:3`},

		{"wrapper_without_index", inSidehookBlock("wrapper LanguageService.wrapRequest"), wrongCount + "'LanguageService.wrapRequest', at Caddyfile:3"},
		{"wrapper_index_not_a_number", inSidehookBlock("wrapper LanguageService.wrapRequest two"), `wrapper param index must be a number >= 0, got "two", at Caddyfile:3`},
		{"wrapper_index_negative", inSidehookBlock("wrapper LanguageService.wrapRequest -1"), `wrapper param index must be a number >= 0, got "-1", at Caddyfile:3`},

		// subscribe <pattern> <url> { secret; client; user }
		{"subscribe_without_url", inSidehookBlock("subscribe CandidateService.update"), wrongCount + "'CandidateService.update', at Caddyfile:3"},
		{"subscribe_bad_pattern", inSidehookBlock("subscribe Candidate..update https://hooks.example.org/x {", "\tsecret "+goodSecret, "}"),
			`subscribe: invalid pattern "Candidate..update": segment 2 is empty, at Caddyfile:3`},
		{"subscribe_url_not_absolute", inSidehookBlock("subscribe A.b /hook {", "\tsecret "+goodSecret, "}"),
			`subscribe: webhookUrl "/hook" must be an absolute http or https URL, at Caddyfile:3`},
		{"subscribe_url_not_http", inSidehookBlock("subscribe A.b ftp://hooks.example.org/x {", "\tsecret "+goodSecret, "}"),
			`subscribe: webhookUrl "ftp://hooks.example.org/x" must be an absolute http or https URL, at Caddyfile:3`},
		{"subscribe_url_without_host", inSidehookBlock("subscribe A.b https:///x {", "\tsecret "+goodSecret, "}"),
			`subscribe: webhookUrl "https:///x" has no host, at Caddyfile:3`},
		{"subscribe_url_unparsable", inSidehookBlock("subscribe A.b http://[::1/x {", "\tsecret "+goodSecret, "}"),
			`subscribe: webhookUrl "http://[::1/x" is not a valid URL: parse "http://[::1/x": missing ']' in host, at Caddyfile:3`},
		{"subscribe_unknown_subdirective", inSidehookBlock("subscribe A.b https://hooks.example.org/x {", "\tsecret "+goodSecret, "\tscope all", "}"),
			`unknown subscribe subdirective "scope", at Caddyfile:5`},
		{"subscribe_secret_without_value", inSidehookBlock("subscribe A.b https://hooks.example.org/x {", "\tsecret", "}"), wrongCount + "'secret', at Caddyfile:4"},
		{"subscribe_client_with_two_values", inSidehookBlock("subscribe A.b https://hooks.example.org/x {", "\tsecret "+goodSecret, "\tclient a b", "}"), wrongCount + "'b', at Caddyfile:5"},
		{"subscribe_without_secret", inSidehookBlock("subscribe A.b https://hooks.example.org/x"),
			"subscribe A.b https://hooks.example.org/x: a secret (whsec_…) is required so receivers can verify deliveries, at Caddyfile:3"},
		{"subscribe_secret_without_prefix", inSidehookBlock("subscribe A.b https://hooks.example.org/x {", "\tsecret c2lkZWhvb2stZGVtby1zZWNyZXQtMzItYnl0ZXMhIQ==", "}"),
			`subscribe: secret: invalid secret: must start with "whsec_", at Caddyfile:5`},
		{"subscribe_secret_not_base64", inSidehookBlock("subscribe A.b https://hooks.example.org/x {", "\tsecret whsec_not-base64!", "}"),
			`subscribe: secret: invalid secret: not standard base64 after "whsec_", at Caddyfile:5`},
		{"subscribe_secret_too_short", inSidehookBlock("subscribe A.b https://hooks.example.org/x {", "\tsecret whsec_c2hvcnQ=", "}"),
			"subscribe: secret: invalid secret: key is 5 bytes, need at least 24, at Caddyfile:5"},

		{"fanout_without_value", inSidehookBlock("fanout"), wrongCount + "'fanout', at Caddyfile:3"},
		{"fanout_unknown", inSidehookBlock("fanout some"), `fanout must be all or one, got "some", at Caddyfile:3`},
		{"payload_without_value", inSidehookBlock("payload"), wrongCount + "'payload', at Caddyfile:3"},
		{"payload_unknown", inSidehookBlock("payload xml"), `payload must be otys or jsonrpc, got "xml", at Caddyfile:3`},
		{"fire_on_error_with_argument", inSidehookBlock("fire_on_error yes"), wrongCount + "'yes', at Caddyfile:3"},
		{"fire_notifications_with_argument", inSidehookBlock("fire_notifications yes"), wrongCount + "'yes', at Caddyfile:3"},

		{"max_body_without_size", inSidehookBlock("max_body"), wrongCount + "'max_body', at Caddyfile:3"},
		{"max_body_not_a_size", inSidehookBlock("max_body lots"), `max_body: bad size "lots", at Caddyfile:3`},
		{"max_body_zero", inSidehookBlock("max_body 0"), `max_body: bad size "0", at Caddyfile:3`},
		{"memory_budget_without_size", inSidehookBlock("memory_budget"), wrongCount + "'memory_budget', at Caddyfile:3"},
		{"memory_budget_not_a_size", inSidehookBlock("memory_budget plenty"), `memory_budget: bad size "plenty", at Caddyfile:3`},
		{"memory_budget_zero", inSidehookBlock("memory_budget 0MB"), `memory_budget: bad size "0MB", at Caddyfile:3`},

		// delivery { workers; per_destination; timeout; retry; daily_limit; allow_destination; keep_logs; paused }
		// The cluster block.
		{"cluster_with_argument", inSidehookBlock("cluster nats {", "\tnats nats://127.0.0.1:4222", "}"), wrongCount + "'nats', at Caddyfile:3"},
		{"cluster_unknown_subdirective", inSidehookBlock("cluster {", "\tservers nats://127.0.0.1:4222", "}"), `unknown cluster subdirective "servers", at Caddyfile:4`},
		{"cluster_nats_without_url", inSidehookBlock("cluster {", "\tnats", "}"), wrongCount + "'nats', at Caddyfile:4"},
		{"cluster_without_nats", inSidehookBlock("cluster {", "\treplicas 3", "}"), "cluster needs at least one nats URL, at Caddyfile:5"},
		{"cluster_token_without_value", inSidehookBlock("cluster {", "\tnats nats://127.0.0.1:4222", "\ttoken", "}"), wrongCount + "'token', at Caddyfile:5"},
		{"cluster_user_without_password", inSidehookBlock("cluster {", "\tnats nats://127.0.0.1:4222", "\tuser sidehook", "}"), "user takes a name and a password, at Caddyfile:5"},
		{"cluster_tls_two_files", inSidehookBlock("cluster {", "\tnats nats://127.0.0.1:4222", "\ttls ca.pem cert.pem", "}"), "tls takes a CA file, then optionally a client certificate and key file, at Caddyfile:5"},
		{"cluster_replicas_not_a_number", inSidehookBlock("cluster {", "\tnats nats://127.0.0.1:4222", "\treplicas three", "}"), `replicas: want a whole number >= 0, got "three", at Caddyfile:5`},
		{"cluster_replicas_too_many", inSidehookBlock("cluster {", "\tnats nats://127.0.0.1:4222", "\treplicas 7", "}"), "cluster: jsstore: 7 replicas: JetStream allows 1 to 5, at Caddyfile:6"},
		{"cluster_token_and_user", inSidehookBlock("cluster {", "\tnats nats://127.0.0.1:4222", "\ttoken t", "\tuser u p", "}"), "cluster: jsstore: use one of token, user and password, or a creds file, at Caddyfile:7"},
		{"cluster_claim_lease_not_a_duration", inSidehookBlock("cluster {", "\tnats nats://127.0.0.1:4222", "\tclaim_lease soon", "}"), `claim_lease: bad duration "soon", at Caddyfile:5`},
		{"cluster_prefix_with_dot", inSidehookBlock("cluster {", "\tnats nats://127.0.0.1:4222", "\tprefix orders.api", "}"), `cluster: jsstore: prefix "orders.api": only letters, digits, '-' and '_', at Caddyfile:6`},

		{"delivery_with_argument", inSidehookBlock("delivery fast {", "\tworkers 2", "}"), wrongCount + "'fast', at Caddyfile:3"},
		{"delivery_unknown_subdirective", inSidehookBlock("delivery {", "\tconcurrency 4", "}"), `unknown delivery subdirective "concurrency", at Caddyfile:4`},
		{"delivery_workers_without_value", inSidehookBlock("delivery {", "\tworkers", "}"), wrongCount + "'workers', at Caddyfile:4"},
		{"delivery_workers_not_a_number", inSidehookBlock("delivery {", "\tworkers many", "}"), `workers: want a whole number >= 0, got "many", at Caddyfile:4`},
		{"delivery_workers_zero", inSidehookBlock("delivery {", "\tworkers 0", "}"), "workers must be at least 1, got 0, at Caddyfile:4"},
		{"delivery_per_destination_zero", inSidehookBlock("delivery {", "\tper_destination 0", "}"), "per_destination must be at least 1, got 0, at Caddyfile:4"},
		{"delivery_per_destination_negative", inSidehookBlock("delivery {", "\tper_destination -2", "}"), `per_destination: want a whole number >= 0, got "-2", at Caddyfile:4`},
		{"delivery_daily_limit_negative", inSidehookBlock("delivery {", "\tdaily_limit -5", "}"), `daily_limit: want a whole number >= 0, got "-5", at Caddyfile:4`},
		{"delivery_timeout_without_value", inSidehookBlock("delivery {", "\ttimeout", "}"), wrongCount + "'timeout', at Caddyfile:4"},
		{"delivery_timeout_not_a_duration", inSidehookBlock("delivery {", "\ttimeout forever", "}"), `timeout: bad duration "forever", at Caddyfile:4`},
		{"delivery_timeout_zero", inSidehookBlock("delivery {", "\ttimeout 0s", "}"), `timeout: bad duration "0s", at Caddyfile:4`},
		{"delivery_timeout_with_block", inSidehookBlock("delivery {", "\ttimeout 5s {", "\t\tworkers 2", "\t}", "}"), "5s takes no block, at Caddyfile:5"},
		{"delivery_keep_logs_not_a_duration", inSidehookBlock("delivery {", "\tkeep_logs always", "}"), `keep_logs: bad duration "always", at Caddyfile:4`},
		{"delivery_retry_without_delay", inSidehookBlock("delivery {", "\tretry", "}"), wrongCount + "'retry', at Caddyfile:4"},
		{"delivery_retry_not_a_duration", inSidehookBlock("delivery {", "\tretry 5s soon", "}"), `retry: bad duration "soon", at Caddyfile:4`},
		{"delivery_retry_negative", inSidehookBlock("delivery {", "\tretry -1s", "}"), `retry: bad duration "-1s", at Caddyfile:4`},
		{"delivery_allow_destination_without_value", inSidehookBlock("delivery {", "\tallow_destination", "}"), wrongCount + "'allow_destination', at Caddyfile:4"},
		{"delivery_allow_destination_bad_cidr", inSidehookBlock("delivery {", "\tallow_destination 10.0.0.0/33", "}"), `allow_destination: bad CIDR "10.0.0.0/33", at Caddyfile:4`},
		{"delivery_allow_destination_host_name", inSidehookBlock("delivery {", "\tallow_destination 127.0.0.1 hooks.example.org", "}"),
			`allow_destination: bad address or CIDR "hooks.example.org", at Caddyfile:4`},
		{"delivery_paused_with_argument", inSidehookBlock("delivery {", "\tpaused yes", "}"), wrongCount + "'yes', at Caddyfile:4"},
	}
	const prefix = "parsing caddyfile tokens for 'sidehook': "
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := caddyconfig.GetAdapter("caddyfile").Adapt([]byte(tc.caddyfile), map[string]any{"filename": "Caddyfile"})
			if err == nil {
				t.Fatalf("adapt accepted:\n%s", tc.caddyfile)
			}
			if got := err.Error(); got != prefix+tc.want {
				t.Errorf("adapt error:\n got: %s\nwant: %s%s\nCaddyfile:\n%s", got, prefix, tc.want, tc.caddyfile)
			}
		})
	}
}
