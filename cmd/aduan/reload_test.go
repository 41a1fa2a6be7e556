package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"aduan/channels/channeltest"
)

// TestReloadOnSIGHUP runs a real `aduan serve` process and changes its
// officers by rewriting the file and sending SIGHUP, as `systemctl reload
// aduan` does: the officer added receives the next ticket (the one taken
// out no longer does), without a restart; a broken file is refused, the
// process goes on, and the officers stay as they were.
func TestReloadOnSIGHUP(t *testing.T) {
	bin := aduanBinary(t)
	fake, cfg := processStores(t, "cmd_reload", 14)
	const (
		genoveva = "+6281337785111"
		tija     = "+6281337973213"
	)
	file := filepath.Join(t.TempDir(), "aduan.yaml")
	rest := "log:\n  level: info\n  format: json\noutbox:\n  poll_interval: 50ms\n"
	writeServeConfig(t, file, cfg.Postgres.URL, cfg.Redis.URL, fake.URL(),
		`  - {name: Genoveva Lindung, phone: "`+genoveva+`", role: officer}
`, "", rest)
	p := startServe(t, bin, file, serveEnv())
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("serve's output:\n%s", p.output())
		}
	})
	client := &http.Client{Transport: channeltest.LoopbackOnly(&http.Transport{})}
	sid := 0
	notified := map[string]bool{} // the fake Twilio's SIDs of the notifications counted
	// report files a whole case report from citizen and returns the
	// officer notified of its ticket.
	report := func(citizen string) string {
		t.Helper()
		for _, text := range append(caseReportTexts(), "ya") {
			sid++
			req := channeltest.NewWebhookRequest(context.Background(), "http://"+p.addr, testPublic, "/webhooks/twilio",
				testToken, channeltest.InboundForm(fmt.Sprintf("SM%032d", sid), citizen, serviceNum, text))
			resp, err := client.Do(req)
			if err != nil {
				t.Fatalf("post %q: %v", text, err)
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 {
				t.Fatalf("post %q = %d", text, resp.StatusCode)
			}
		}
		var to string
		eventually(t, "the new ticket's notification", func() bool {
			for _, m := range fake.Messages() {
				if strings.HasPrefix(m.Body, "Tiket baru") && !notified[m.SID] {
					notified[m.SID] = true
					to = m.To
					return true
				}
			}
			return false
		})
		return to
	}
	reload := func(want string) {
		t.Helper()
		before := strings.Count(p.output(), want)
		if err := p.cmd.Process.Signal(syscall.SIGHUP); err != nil {
			t.Fatal(err)
		}
		eventually(t, "the log line "+want, func() bool { return strings.Count(p.output(), want) > before })
	}

	if to := report("+6281299990101"); to != genoveva {
		t.Fatalf("first ticket notified %s, want Genoveva", to)
	}

	// Tija takes Genoveva's place.
	writeServeConfig(t, file, cfg.Postgres.URL, cfg.Redis.URL, fake.URL(),
		`  - {name: Tija Ndaka, phone: "`+tija+`", role: officer, hours: "00.00-24.00"}
`, "", rest)
	reload(`"msg":"configuration reloaded"`)
	if !strings.Contains(p.output(), `"officers: 1 -> 1 (1 added, 1 removed, 0 changed)"`) {
		t.Errorf("the reload did not log the officers' change")
	}
	if to := report("+6281299990102"); to != tija {
		t.Errorf("after the reload the ticket notified %s, want Tija", to)
	}

	// A broken file: refused, nothing changes, the process goes on.
	if err := os.WriteFile(file, []byte("officers:\n  - {name: X, phone: \"12\", role: officer}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	reload(`"msg":"configuration not reloaded: nothing changed"`)
	if !strings.Contains(p.output(), `line 2: officers[0].phone`) {
		t.Errorf("the refusal does not name the line and the key")
	}
	if to := report("+6281299990103"); to != tija {
		t.Errorf("after a broken file the ticket notified %s, want Tija still", to)
	}
	if code := p.stop(); code != 0 {
		t.Errorf("exit status %d, want 0", code)
	}
}

// caseReportTexts is caseReport's messages.
func caseReportTexts() []string {
	out := make([]string, len(caseReport))
	for i, m := range caseReport {
		out[i] = m.text
	}
	return out
}
