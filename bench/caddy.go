package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// benchSecret signs the static subscriptions (any valid whsec_ secret will do).
const benchSecret = "whsec_c2lkZWhvb2stZGVtby1zZWNyZXQtMzItYnl0ZXMhIQ=="

// instance is one Caddy process (the sidehook binary) with one site in front of the fake upstream.
type instance struct {
	name  string
	bin   string
	dir   string
	port  int
	admin int
	cmd   *exec.Cmd
	done  chan struct{}
}

// logLevel keeps delivery failures (WARN) in caddy.log, except where every attempt fails on purpose.
func (in *instance) logLevel() string {
	if in.name == "mem" {
		return "ERROR"
	}
	return "WARN"
}

func (in *instance) addr() string { return fmt.Sprintf("127.0.0.1:%d", in.port) }

// siteConfig is the Caddyfile of an instance: sidehookBlock empty means bare reverse_proxy.
func (in *instance) caddyfile(upstreamAddr, sidehookBlock string) string {
	return fmt.Sprintf(`{
	admin 127.0.0.1:%d
	persist_config off
	auto_https off
	skip_install_trust
	grace_period 2s
	storage file_system %s/storage
	log {
		level %s
	}
}
http://127.0.0.1:%d {
%s
	reverse_proxy %s
}
`, in.admin, in.dir, in.logLevel(), in.port, sidehookBlock, upstreamAddr)
}

// sidehookBlock builds the handler's config: pattern is subscribed, deliveries go to hookURL.
func sidehookBlock(queueDir, pattern, hookURL, deliveryLines string) string {
	return fmt.Sprintf(`	sidehook {
		queue_dir %s
		subscribe %s %s {
			secret %s
		}
		delivery {
			allow_destination 127.0.0.1/32
			daily_limit 0
%s
		}
	}`, queueDir, pattern, hookURL, benchSecret, deliveryLines)
}

// env is added to the process's environment (the GC control runs a bare Caddy with GOGC=1000).
func startInstance(name, bin, root, upstreamAddr string, block func(in *instance) string, env ...string) (*instance, error) {
	in := &instance{name: name, bin: bin, dir: filepath.Join(root, name), done: make(chan struct{})}
	if err := os.MkdirAll(in.dir, 0o755); err != nil {
		return nil, err
	}
	var err error
	if in.port, err = freePort(); err != nil {
		return nil, err
	}
	if in.admin, err = freePort(); err != nil {
		return nil, err
	}
	cfg := in.caddyfile(upstreamAddr, block(in))
	cfgPath := filepath.Join(in.dir, "Caddyfile")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o644); err != nil {
		return nil, err
	}
	logf, err := os.Create(filepath.Join(in.dir, "caddy.log"))
	if err != nil {
		return nil, err
	}
	in.cmd = exec.Command(bin, "run", "--config", cfgPath, "--adapter", "caddyfile")
	in.cmd.Stdout, in.cmd.Stderr = logf, logf
	in.cmd.Env = append(os.Environ(), "HOME="+in.dir, "XDG_DATA_HOME="+filepath.Join(in.dir, "data"), "XDG_CONFIG_HOME="+filepath.Join(in.dir, "config"))
	in.cmd.Env = append(in.cmd.Env, env...)
	in.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := in.cmd.Start(); err != nil {
		return nil, err
	}
	trackProcess(in)
	go func() { in.cmd.Wait(); logf.Close(); close(in.done) }()
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-in.done:
			return nil, fmt.Errorf("%s exited at start; see %s", name, filepath.Join(in.dir, "caddy.log"))
		default:
		}
		if c, err := net.DialTimeout("tcp", in.addr(), time.Second); err == nil {
			c.Close()
			return in, nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	in.stop()
	return nil, fmt.Errorf("%s did not start within 60s", name)
}

// stop asks Caddy to quit (SIGINT: a clean shutdown closes Badger) and kills it if it has not within 20s.
func (in *instance) stop() {
	if in == nil || in.cmd == nil || in.cmd.Process == nil {
		return
	}
	select {
	case <-in.done:
		return
	default:
	}
	in.cmd.Process.Signal(os.Interrupt)
	select {
	case <-in.done:
	case <-time.After(20 * time.Second):
		in.cmd.Process.Kill()
		<-in.done
	}
	untrackProcess(in)
}

// reload replaces the running config through the admin API.
func (in *instance) reload(caddyfile string) error {
	req, _ := http.NewRequest(http.MethodPost, fmt.Sprintf("http://127.0.0.1:%d/load", in.admin), strings.NewReader(caddyfile))
	req.Header.Set("Content-Type", "text/caddyfile")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		return fmt.Errorf("reload %s: %s: %s", in.name, resp.Status, b)
	}
	return nil
}

type queueStats struct {
	Depth     uint64 `json:"depth"`
	InFlight  uint64 `json:"in_flight"`
	Dead      uint64 `json:"dead"`
	Delivered uint64 `json:"delivered"`
	Failed    uint64 `json:"failed"`
	Limited   uint64 `json:"limited"`
}

func (in *instance) stats() (queueStats, error) {
	var s queueStats
	resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/sidehook/stats", in.admin))
	if err != nil {
		return s, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return s, fmt.Errorf("stats: %s", resp.Status)
	}
	return s, json.NewDecoder(resp.Body).Decode(&s)
}

// waitDepth waits until the queue holds at most depth messages, for at most d.
func (in *instance) waitDepth(depth uint64, d time.Duration) (queueStats, error) {
	deadline := time.Now().Add(d)
	for {
		s, err := in.stats()
		if err == nil && s.Depth <= depth {
			return s, nil
		}
		if time.Now().After(deadline) {
			if err == nil {
				err = fmt.Errorf("%s: queue depth still %d after %s", in.name, s.Depth, d)
			}
			return s, err
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// processCPU is the CPU time (user + system) process pid has used so far,
// from /proc/<pid>/stat (in USER_HZ ticks, 100 a second on Linux); 0 where
// it cannot be read.
func processCPU(pid int) time.Duration {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	// The command name (field 2) may hold spaces: count from the ")" that ends it.
	end := strings.LastIndexByte(string(raw), ')')
	if end < 0 {
		return 0
	}
	fields := strings.Fields(string(raw[end+1:]))
	if len(fields) < 13 { // utime and stime are fields 14 and 15 of the line, 12 and 13 after the name
		return 0
	}
	utime, err1 := strconv.ParseInt(fields[11], 10, 64)
	stime, err2 := strconv.ParseInt(fields[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0
	}
	return time.Duration(utime+stime) * (time.Second / 100)
}

// memory reads the process's resident set (now and peak) from /proc, in bytes.
func (in *instance) memory() (rss, hwm int64) {
	m := in.memoryDetail()
	return m.rss, m.hwm
}

// memoryDetail is /proc/<pid>/status's resident set split into anonymous
// memory (heap, stacks) and file pages mapped into the process (Badger
// mmaps its tables and logs: those pages belong to the page cache).
type memoryDetail struct{ rss, hwm, anon, file int64 }

func (in *instance) memoryDetail() (m memoryDetail) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", in.cmd.Process.Pid))
	if err != nil {
		return m
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 2 {
			continue
		}
		kb, _ := strconv.ParseInt(fields[1], 10, 64)
		switch fields[0] {
		case "VmRSS:":
			m.rss = kb << 10
		case "VmHWM:":
			m.hwm = kb << 10
		case "RssAnon:":
			m.anon = kb << 10
		case "RssFile:":
			m.file = kb << 10
		}
	}
	return m
}

// fetch GETs an admin path into a file (profiles).
func (in *instance) fetch(path, out string) error {
	resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d%s", in.admin, path))
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", path, resp.Status)
	}
	f, err := os.Create(out)
	if err != nil {
		return err
	}
	defer f.Close()
	_, err = io.Copy(f, resp.Body)
	return err
}

// diskUsage sums the allocated blocks and the apparent sizes of the files under dir.
func diskUsage(dir string) (allocated, apparent int64) {
	filepath.Walk(dir, func(_ string, fi os.FileInfo, err error) error {
		if err != nil || fi.IsDir() {
			return nil
		}
		apparent += fi.Size()
		if st, ok := fi.Sys().(*syscall.Stat_t); ok {
			allocated += st.Blocks * 512
		}
		return nil
	})
	return allocated, apparent
}

// get returns the body of an admin path.
func (in *instance) get(path string) (string, error) {
	resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d%s", in.admin, path))
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return string(b), err
}

// memStatsLines keeps the runtime.MemStats summary of a debug=1 heap profile.
func memStatsLines(heap string) string {
	var out []string
	for _, l := range strings.Split(heap, "\n") {
		for _, k := range []string{"# HeapAlloc", "# HeapInuse", "# HeapSys", "# HeapIdle", "# HeapReleased", "# Sys ", "# Stack", "# MSpan", "# OtherSys", "# GCSys", "# NumGC"} {
			if strings.HasPrefix(l, k) {
				out = append(out, strings.TrimPrefix(l, "# "))
			}
		}
	}
	return strings.Join(out, "\n")
}

// mappedByKind sums the resident pages of the process's file mappings by file kind: Badger's tables (.sst),
// value logs (.vlog) and memtable logs (.mem), and everything else (the executable, mostly). It reads
// /proc/<pid>/smaps, which is slow for a big process: call it once, at the end.
func (in *instance) mappedByKind() map[string]int64 {
	f, err := os.Open(fmt.Sprintf("/proc/%d/smaps", in.cmd.Process.Pid))
	if err != nil {
		return nil
	}
	defer f.Close()
	out := map[string]int64{}
	kind := ""
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		switch {
		case len(fields) >= 5 && strings.Contains(fields[0], "-") && !strings.HasSuffix(fields[0], ":"):
			kind = ""
			if len(fields) >= 6 && strings.HasPrefix(fields[5], "/") {
				kind = "other"
				for _, ext := range []string{".sst", ".vlog", ".mem"} {
					if strings.HasSuffix(fields[len(fields)-1], ext) {
						kind = ext
					}
				}
			}
		case len(fields) >= 2 && fields[0] == "Rss:" && kind != "":
			kb, _ := strconv.ParseInt(fields[1], 10, 64)
			out[kind] += kb << 10
		}
	}
	return out
}
