package main

import (
	"context"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"time"

	"aduan/bot"
	"aduan/internal/seal"
	"aduan/store/sqlstore"
)

// checkReport is the final consistency check of a load run.
type checkReport struct {
	Passed        bool `json:"passed"`
	Citizens      int  `json:"citizens"`
	WithCode      int  `json:"citizens_with_one_code"`
	Tickets       int  `json:"tickets_in_postgres"`
	Notifications int  `json:"officer_notifications_received"`
	// StaffWithoutCode counts messages to officers that name no ticket:
	// not checked.
	StaffWithoutCode int            `json:"officer_messages_without_code,omitempty"`
	Replies          int            `json:"replies_received"`
	Problems         map[string]int `json:"problems"`
	Examples         []string       `json:"examples,omitempty"`
}

func (c *checkReport) problem(kind, example string) {
	c.Problems[kind]++
	if len(c.Examples) < 10 {
		c.Examples = append(c.Examples, kind+": "+example)
	}
}

func (c checkReport) print(w io.Writer) {
	verdict := "passed"
	if !c.Passed {
		verdict = "FAILED"
	}
	fmt.Fprintf(w, "check                      %s: %d citizens, %d with exactly one ticket code, %d tickets in PostgreSQL, %d officer notifications, %d replies\n",
		verdict, c.Citizens, c.WithCode, c.Tickets, c.Notifications, c.Replies)
	for _, k := range slices.Sorted(maps.Keys(c.Problems)) {
		fmt.Fprintf(w, "  problem: %s: %d\n", k, c.Problems[k])
	}
	for _, e := range c.Examples {
		fmt.Fprintf(w, "  e.g. %s\n", e)
	}
}

// check waits for the outbox to drain and then checks, against PostgreSQL
// (through the store, so that it reads what the service wrote the way the
// service reads it) and what the fake Twilio received:
//   - every citizen got exactly one ticket code, and PostgreSQL has exactly
//     that ticket for the citizen's number, and no other;
//   - every ticket was notified to some officer, every officer received as
//     many messages about each ticket as the outbox holds for them, none
//     twice, and none about a ticket PostgreSQL does not have;
//   - every reply in the outbox was sent, and each citizen received as many
//     replies as the outbox holds for them (none lost, none sent twice).
func (e *engine) check(ctx context.Context, pgURL string, fake interface{ Count() int }) checkReport {
	rep := checkReport{Problems: map[string]int{}}
	keys, err := keyring(e.cfg.EncryptionKey, e.cfg.LookupKey)
	if err != nil {
		rep.problem("no keys to read the tickets with", err.Error())
		return rep
	}
	st, err := sqlstore.OpenPostgres(ctx, pgURL, sqlstore.WithKeyring(keys))
	if err != nil {
		rep.problem("PostgreSQL unreachable", err.Error())
		return rep
	}
	defer st.Close()

	// The dispatcher sends after commit and records the outcome in a batch:
	// wait until nothing is pending.
	deadline := time.Now().Add(60 * time.Second)
	for {
		var pending int
		err := st.Pool().QueryRow(ctx, `SELECT count(*) FROM outbox WHERE state = 'pending'`).Scan(&pending)
		if err != nil {
			rep.problem("PostgreSQL query failed", err.Error())
			return rep
		}
		if pending == 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}

	tickets, err := st.Tickets(ctx, bot.TicketFilter{})
	if err != nil {
		rep.problem("PostgreSQL query failed", err.Error())
		return rep
	}
	outbox, err := st.Outbox(ctx)
	if err != nil {
		rep.problem("PostgreSQL query failed", err.Error())
		return rep
	}

	byPhone := map[string][]string{} // reporter -> ticket codes
	ours := map[string]bool{}        // ticket codes of this run's citizens
	for _, t := range tickets {
		if strings.HasPrefix(t.Reporter, e.phones) {
			byPhone[t.Reporter] = append(byPhone[t.Reporter], t.Code)
			ours[t.Code] = true
		}
	}
	rep.Tickets = len(ours)

	e.allMu.Lock()
	all := slices.Clone(e.all)
	e.allMu.Unlock()
	rep.Citizens = len(all)
	mine := map[string]*citizen{}
	for _, c := range all {
		mine[c.phone] = c
		codes := byPhone[c.phone]
		switch {
		case !c.done.Load():
			rep.problem("citizen got no ticket code", bot.Mask(c.phone))
		case len(codes) == 0:
			rep.problem("code received but no ticket in PostgreSQL", c.code)
		case len(codes) > 1:
			rep.problem("citizen has several tickets", strings.Join(codes, " "))
		case codes[0] != c.code:
			rep.problem("code received is not the citizen's ticket", c.code+" vs "+codes[0])
		default:
			rep.WithCode++
		}
		if !c.done.Load() && len(codes) > 0 {
			rep.problem("ticket whose code never reached its citizen", strings.Join(codes, " "))
		}
	}
	for phone, codes := range byPhone {
		if mine[phone] == nil {
			rep.problem("ticket from a number the bench never used", strings.Join(codes, " "))
		}
	}

	notified := map[string]map[string]int{} // code -> staff phone -> outbox rows
	replies := map[string]int{}             // citizen -> outbox rows
	for _, m := range outbox {
		switch {
		case m.Purpose == bot.PurposeNotify && ours[m.TicketCode]:
			if notified[m.TicketCode] == nil {
				notified[m.TicketCode] = map[string]int{}
			}
			notified[m.TicketCode][m.To]++
		case m.Purpose == bot.PurposeReply && mine[m.To] != nil:
			replies[m.To]++
		default:
			continue
		}
		if m.State != "sent" {
			rep.problem("outbox message not sent ("+m.State+")", fmt.Sprintf("id %d, %s", m.ID, m.LastError))
		}
	}
	e.notesMu.Lock()
	staffMsgs := e.noCode
	rep.StaffWithoutCode = e.noCode
	for code := range ours {
		n := 0
		for to, k := range notified[code] {
			n += k
			if got := e.notes[code][to]; got != k {
				rep.problem("officer received a different number of messages about a ticket than the outbox holds",
					fmt.Sprintf("%s to %s: received %d, outbox %d", code, bot.Mask(to), got, k))
			}
		}
		if n == 0 {
			rep.problem("ticket notified to nobody", code)
		}
	}
	for code, to := range e.notes {
		if !ours[code] {
			rep.problem("officer message about a ticket not in PostgreSQL", code)
		}
		for _, n := range to {
			staffMsgs += n
		}
	}
	rep.Notifications = staffMsgs - e.noCode
	for k, n := range e.bodies {
		if n > 1 {
			to, _, _ := strings.Cut(k, "\x00")
			rep.problem("same message sent twice to an officer", bot.Mask(to))
		}
	}
	e.notesMu.Unlock()

	for _, c := range all {
		got := int(c.received.Load())
		rep.Replies += got
		if want := replies[c.phone]; got != want {
			rep.problem("citizen received a different number of replies than the outbox holds",
				fmt.Sprintf("%s: received %d, outbox %d", bot.Mask(c.phone), got, want))
		}
	}
	if n := fake.Count(); n != rep.Replies+staffMsgs {
		rep.problem("the fake provider received messages for no citizen or officer",
			fmt.Sprintf("%d received, %d accounted for", n, rep.Replies+staffMsgs))
	}
	rep.Passed = len(rep.Problems) == 0 && rep.Citizens > 0
	return rep
}

// keyring makes the servers' keyring from their base64 keys.
func keyring(encryptionKey, lookupKey string) (*seal.Keyring, error) {
	enc, err := seal.ParseKey(encryptionKey)
	if err != nil {
		return nil, fmt.Errorf("encryption key: %w", err)
	}
	look, err := seal.ParseKey(lookupKey)
	if err != nil {
		return nil, fmt.Errorf("lookup key: %w", err)
	}
	return seal.New(enc, nil, look)
}
