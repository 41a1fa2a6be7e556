package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"unicode/utf8"

	"aduan/channels/channeltest"
	"aduan/dialog"
)

// webhookURL is the URL Twilio signs.
const webhookURL = testPublic + "/webhooks/twilio"

// postRaw posts body to the inbound webhook with the content type and the
// signature (none when ""), and returns the status and the response body.
func (h *harness) postRaw(body, contentType, sig string) (int, string) {
	h.t.Helper()
	req, err := http.NewRequest(http.MethodPost, h.web.URL+"/webhooks/twilio", strings.NewReader(body))
	if err != nil {
		h.t.Fatal(err)
	}
	req.Header.Set("Content-Type", contentType)
	if sig != "" {
		req.Header.Set("X-Twilio-Signature", sig)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		h.t.Fatalf("post: %v", err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// counts is how much the service has stored and sent.
type counts struct{ seen, outbox, sent int }

func (h *harness) counts() counts {
	h.t.Helper()
	var c counts
	if err := h.srv.pg.Pool().QueryRow(context.Background(), "SELECT count(*) FROM inbound_seen").Scan(&c.seen); err != nil {
		h.t.Fatal(err)
	}
	out, err := h.srv.pg.Outbox(context.Background())
	if err != nil {
		h.t.Fatal(err)
	}
	c.outbox, c.sent = len(out), h.twilio.Count()
	return c
}

// fileReport plays a whole case report from `from` with story as its
// description and returns the ticket's code.
func (h *harness) fileReport(from, story string) string {
	h.t.Helper()
	for i, m := range caseReport {
		text := m.text
		if i == storyStep() {
			text = story
		}
		h.send(from, text)
	}
	for _, b := range h.send(from, "ya") {
		if code := findCode(b); code != "" {
			return code
		}
	}
	eventually(h.t, "the ticket code", func() bool {
		for _, b := range h.sentTo(from) {
			if findCode(b) != "" {
				return true
			}
		}
		return false
	})
	for _, b := range h.sentTo(from) {
		if code := findCode(b); code != "" {
			return code
		}
	}
	return ""
}

// storyStep is the index in caseReport of the description.
func storyStep() int {
	for i, m := range caseReport {
		if len(m.text) > 20 {
			return i
		}
	}
	panic("caseReport has no description")
}

// TestHostileInput sends what an attacker or an unlucky phone might
// through the real webhook and pipeline, and checks each outcome: the
// status code, whether a reply went out, and what was stored.
func TestHostileInput(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	victimCode := h.fileReport(citizen, "Tetangga saya dipukul suaminya setiap malam")
	victim, err := h.srv.pg.Ticket(ctx, victimCode)
	if err != nil {
		t.Fatal(err)
	}

	n := 0
	fresh := func() string { n++; return fmt.Sprintf("+62812777700%02d", n) }
	signed := func(f url.Values) (string, string) {
		return f.Encode(), channeltest.Sign(testToken, webhookURL, f)
	}
	const form = "application/x-www-form-urlencoded"

	// storyCase files a report whose description is story and checks what
	// was stored.
	storyCase := func(story string, check func(t *testing.T, stored string)) func(t *testing.T) {
		return func(t *testing.T) {
			code := h.fileReport(fresh(), story)
			tk, err := h.srv.pg.Ticket(ctx, code)
			if err != nil {
				t.Fatalf("ticket %s: %v", code, err)
			}
			stored := tk.Answers["description"]
			if !utf8.ValidString(stored) || strings.ContainsRune(stored, 0) {
				t.Errorf("stored description %q: invalid UTF-8 or NUL", stored)
			}
			check(t, stored)
		}
	}
	// refused posts a request that must be answered with status and
	// change nothing.
	refused := func(status int, body, contentType, sig string) func(t *testing.T) {
		return func(t *testing.T) {
			before := h.counts()
			got, resp := h.postRaw(body, contentType, sig)
			if got != status {
				t.Fatalf("status %d, want %d", got, status)
			}
			if strings.Contains(resp, "halo") || len(resp) > 64 {
				t.Errorf("response %q echoes the request", resp)
			}
			h.outboxDrained()
			if after := h.counts(); after != before {
				t.Errorf("stored or sent %+v, then %+v; want no change", before, after)
			}
		}
	}
	// answered sends text from a new number after the messages before,
	// and checks the replies to text.
	answered := func(before []string, text string, check func(t *testing.T, replies []string)) func(t *testing.T) {
		return func(t *testing.T) {
			from := fresh()
			for _, m := range before {
				h.send(from, m)
			}
			replies := h.send(from, text)
			for _, r := range replies {
				if strings.TrimSpace(r) == "" || !utf8.ValidString(r) {
					t.Errorf("reply %q: empty or invalid UTF-8", r)
				}
			}
			check(t, replies)
		}
	}

	tests := []struct {
		name string
		run  func(t *testing.T)
	}{
		{"SQL at the menu: a reply, the tables intact", answered([]string{"halo"}, "'; DROP TABLE tickets; --",
			func(t *testing.T, replies []string) {
				if _, err := h.srv.pg.Ticket(ctx, victimCode); err != nil {
					t.Errorf("the tickets table after SQL input: %v", err)
				}
			})},
		{"SQL as the story: stored as written", storyCase("Robert'); DROP TABLE tickets; -- dipukul",
			func(t *testing.T, stored string) {
				if stored != "Robert'); DROP TABLE tickets; -- dipukul" {
					t.Errorf("stored %q, want the text as written", stored)
				}
			})},
		{"format strings: answered, never formatted", answered([]string{"halo"}, "%s %d %n %x %!v %% {{.}} ${x}",
			func(t *testing.T, replies []string) {
				for _, r := range replies {
					if strings.Contains(r, "%!") || strings.Contains(r, "(MISSING)") {
						t.Errorf("reply %q shows a formatting error", r)
					}
				}
			})},
		{"10,000 characters as the story: stored whole (up to dialog.MaxStory)", storyCase(strings.Repeat("kata ", 2000),
			func(t *testing.T, stored string) {
				if want := strings.TrimSpace(strings.Repeat("kata ", 2000)); stored != want || len(want) > dialog.MaxStory {
					t.Errorf("stored %d runes (%.40q...), want the %d written", utf8.RuneCountInString(stored), stored, len(want))
				}
			})},
		{"10,000 emoji: the body is over the limit", func(t *testing.T) {
			body, sig := signed(channeltest.InboundForm(h.sid(), fresh(), serviceNum, strings.Repeat("🙏", 10000)))
			refused(http.StatusRequestEntityTooLarge, body, form, sig)(t)
		}},
		{"RTL and zero-width around a choice: read as the choice", func(t *testing.T) {
			var plain []string
			answered([]string{"halo"}, "1", func(t *testing.T, r []string) { plain = r })(t)
			answered([]string{"halo"}, "\u202e1\u200b\u2066", func(t *testing.T, r []string) {
				if strings.Join(r, "|") != strings.Join(plain, "|") {
					t.Errorf("replies %q, want those to a plain 1: %q", r, plain)
				}
			})(t)
		}},
		{"NUL bytes and invalid UTF-8 in the story: stored clean", storyCase("Dipukul\x00 semalam \xff\xfe oleh suami\x00",
			func(t *testing.T, stored string) {
				if !strings.Contains(stored, "Dipukul") || !strings.Contains(stored, "oleh suami") {
					t.Errorf("stored %q, want the words kept", stored)
				}
			})},
		{"invalid UTF-8 at the start: a greeting", answered(nil, "\xff\xfe\xc3\x28 halo",
			func(t *testing.T, replies []string) {})},
		{"forged signature: 403, nothing stored", func(t *testing.T) {
			f := channeltest.InboundForm(h.sid(), fresh(), serviceNum, "halo")
			refused(http.StatusForbidden, f.Encode(), form, channeltest.Sign("wrongtoken", webhookURL, f))(t)
		}},
		{"no signature: 403, nothing stored", func(t *testing.T) {
			refused(http.StatusForbidden, channeltest.InboundForm(h.sid(), fresh(), serviceNum, "halo").Encode(), form, "")(t)
		}},
		{"signature for another URL: 403", func(t *testing.T) {
			f := channeltest.InboundForm(h.sid(), fresh(), serviceNum, "halo")
			refused(http.StatusForbidden, f.Encode(), form, channeltest.Sign(testToken, testPublic+"/webhooks/twilio/status", f))(t)
		}},
		{"signature of another body: 403", func(t *testing.T) {
			f := channeltest.InboundForm(h.sid(), fresh(), serviceNum, "halo")
			sig := channeltest.Sign(testToken, webhookURL, f)
			f.Set("Body", "TERIMA "+victimCode)
			refused(http.StatusForbidden, f.Encode(), form, sig)(t)
		}},
		{"not a form: 400", refused(http.StatusBadRequest, `{"Body":"halo"}`, "application/json", "c2ln")},
		{"a malformed form: 400", func(t *testing.T) {
			refused(http.StatusBadRequest, "MessageSid=SM1;From=%2B62812;Body=halo", form, "c2lnbmF0dXJlIG9mIG5vdGhpbmcgYXQgYWxsIQ==")(t)
		}},
		{"replayed request: one effect", func(t *testing.T) {
			from := fresh()
			body, sig := signed(channeltest.InboundForm(h.sid(), from, serviceNum, "halo"))
			for i := range 3 {
				if got, _ := h.postRaw(body, form, sig); got != http.StatusOK {
					t.Fatalf("delivery %d: status %d, want 200", i, got)
				}
			}
			h.outboxDrained()
			if got := h.sentTo(from); len(got) != 1 {
				t.Errorf("replies to a request delivered three times = %d, want 1", len(got))
			}
		}},
		{"another body under a replayed MessageSid: no effect", func(t *testing.T) {
			from := fresh()
			sid := h.sid()
			h.post(sid, from, "halo")
			h.outboxDrained()
			before := h.counts()
			body, sig := signed(channeltest.InboundForm(sid, from, serviceNum, "TERIMA "+victimCode))
			if got, _ := h.postRaw(body, form, sig); got != http.StatusOK {
				t.Fatalf("status %d, want 200 (a redelivery is acknowledged)", got)
			}
			h.outboxDrained()
			if after := h.counts(); after != before {
				t.Errorf("stored or sent %+v, then %+v; want no change", before, after)
			}
		}},
		{"a stranger's officer command: a citizen's answer, the ticket untouched", answered(nil, "TERIMA "+victimCode,
			func(t *testing.T, replies []string) {
				tk, err := h.srv.pg.Ticket(ctx, victimCode)
				if err != nil {
					t.Fatal(err)
				}
				if tk.Assignee != victim.Assignee || !tk.AcceptedAt.Equal(victim.AcceptedAt) || tk.Status != victim.Status {
					t.Errorf("ticket after a stranger's TERIMA = %+v, want unchanged", tk)
				}
				for _, r := range replies {
					if strings.Contains(r, victimCode) {
						t.Errorf("reply %q names the ticket", r)
					}
				}
			})},
		{"a stranger asking about someone's ticket: the same answer as for no ticket", func(t *testing.T) {
			ask := func(code string) string {
				from := fresh()
				h.send(from, "halo")
				h.send(from, "cek")
				return strings.Join(h.send(from, code), "|")
			}
			real, none := ask(victimCode), ask("KS-ZZZZZZ")
			if strings.ReplaceAll(real, victimCode, "KS-ZZZZZZ") != none {
				t.Errorf("answer about a real ticket %q, about none %q: want the same", real, none)
			}
			if tk, _ := h.srv.pg.Ticket(ctx, victimCode); strings.Contains(real, tk.Answers["description"]) {
				t.Errorf("answer %q reveals the ticket", real)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, tt.run)
	}
}
