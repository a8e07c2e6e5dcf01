// Command xcaddybuild builds a Caddy with sidehook by xcaddy, from the build recorded in xcaddy.json.
//
// xcaddy.json holds fields of xcaddy's own Builder (caddy_version, plugins, replacements), so the build is
// written down once and this command only translates it into `xcaddy build <version> --with …`. Usage, from the
// repository root:
//
//	go run ./cmd/xcaddybuild [-config xcaddy.json] [-output ./caddy]
//
// xcaddy must be on PATH (go install github.com/caddyserver/xcaddy/cmd/xcaddy@v0.4.5).
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// buildSpec is the subset of xcaddy's Builder that xcaddy.json records.
type buildSpec struct {
	CaddyVersion string `json:"caddy_version"`
	Plugins      []struct {
		ModulePath string `json:"module_path"`
		Version    string `json:"version"`
	} `json:"plugins"`
	Replacements []struct {
		Old string `json:"old"`
		New string `json:"new"`
	} `json:"replacements"`
}

func main() {
	config := flag.String("config", "xcaddy.json", "the recorded build")
	output := flag.String("output", "caddy", "the binary to write")
	flag.Parse()
	args, env, err := xcaddyCommand(*config, *output)
	if err != nil {
		fmt.Fprintln(os.Stderr, "xcaddybuild:", err)
		os.Exit(2)
	}
	fmt.Fprintln(os.Stderr, "xcaddybuild: xcaddy", strings.Join(args, " "))
	cmd := exec.Command("xcaddy", args...)
	cmd.Stdout, cmd.Stderr, cmd.Env = os.Stdout, os.Stderr, env
	if err := cmd.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "xcaddybuild:", err)
		os.Exit(1)
	}
}

// xcaddyCommand turns the recorded build into xcaddy's arguments and environment.
func xcaddyCommand(configPath, output string) ([]string, []string, error) {
	raw, err := os.ReadFile(configPath)
	if err != nil {
		return nil, nil, err
	}
	var spec buildSpec
	if err := json.Unmarshal(raw, &spec); err != nil {
		return nil, nil, fmt.Errorf("%s: %w", configPath, err)
	}
	if spec.CaddyVersion == "" || len(spec.Plugins) == 0 {
		return nil, nil, fmt.Errorf("%s: caddy_version and plugins are required", configPath)
	}
	base := filepath.Dir(configPath)
	replacement := map[string]string{}
	for _, r := range spec.Replacements {
		replacement[r.Old] = r.New
	}
	args := []string{"build", spec.CaddyVersion, "--output", output}
	localReplacement := false
	for _, p := range spec.Plugins {
		with := p.ModulePath
		if p.Version != "" {
			with += "@" + p.Version
		}
		if repl, ok := replacement[p.ModulePath]; ok {
			if strings.HasPrefix(repl, ".") || filepath.IsAbs(repl) {
				abs, err := filepath.Abs(filepath.Join(base, repl))
				if err != nil {
					return nil, nil, err
				}
				repl, localReplacement = abs, true
			}
			with += "=" + repl
		}
		args = append(args, "--with", with)
	}
	env := os.Environ()
	if localReplacement {
		env = append(env, fallbackProxy()...)
	}
	return args, env, nil
}

// fallbackProxy lets `go get` fall through to the local replacement when the module proxy refuses a module
// that is not published ("|" falls back on any error, "," only on 404/410). A GOPROXY the user set is kept.
func fallbackProxy() []string {
	if os.Getenv("GOPROXY") != "" {
		return nil
	}
	out, err := exec.Command("go", "env", "GOPROXY").Output()
	if err != nil {
		return nil
	}
	first := strings.Split(strings.TrimSpace(string(out)), ",")[0]
	first = strings.Split(first, "|")[0]
	if first == "" || first == "direct" || first == "off" {
		return nil
	}
	return []string{"GOPROXY=" + first + "|off"}
}
