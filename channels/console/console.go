// Package console is the demo channel: a person types as a citizen (or, after
// /from, as anyone else) in a terminal, and every outbound message is printed
// with its recipient. With standard input from a pipe it plays the lines as a
// script and returns at the end of input.
package console

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"
	"time"

	"aduan/bot"
)

// Pipeline is where typed messages go.
type Pipeline interface {
	Handle(ctx context.Context, m bot.Inbound) error
}

// Waiter reports when every outbound message handed over has been sent.
type Waiter interface {
	Wait(ctx context.Context) error
}

// Channel reads typed lines and prints outbound messages. It is also the
// bot.Sender for every channel in the demo.
type Channel struct {
	In       io.Reader
	Out      io.Writer
	Pipeline Pipeline
	Waiter   Waiter
	From     string            // who is typing, E.164
	To       string            // the service's number
	Names    map[string]string // recipient labels, by address
	Prompt   bool              // print a prompt before each line (a terminal)
	// Normalize turns a typed number into E.164; it returns an error for
	// one that is not valid.
	Normalize func(string) (string, error)
	Now       func() time.Time

	mu  sync.Mutex
	seq int
}

var _ bot.Sender = (*Channel)(nil)

// Send prints m with its recipient.
func (c *Channel) Send(_ context.Context, m bot.Outbound) (string, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.seq++
	who := m.To
	if n := c.Names[m.To]; n != "" {
		who += " (" + n + ")"
	}
	body := strings.ReplaceAll(m.Body, "\n", "\n    ")
	fmt.Fprintf(c.Out, "< to %s:\n    %s\n", who, body)
	return "console-out-" + strconv.Itoa(c.seq), nil
}

// Run plays lines until the input ends or ctx is done.
func (c *Channel) Run(ctx context.Context) error {
	now := c.Now
	if now == nil {
		now = time.Now
	}
	sc := bufio.NewScanner(c.In)
	sc.Buffer(make([]byte, 64*1024), 64*1024)
	run := now().UnixNano()
	n := 0
	for {
		if c.Prompt {
			c.mu.Lock()
			fmt.Fprintf(c.Out, "%s> ", c.From)
			c.mu.Unlock()
		}
		if !sc.Scan() {
			return sc.Err()
		}
		if ctx.Err() != nil {
			return nil
		}
		line := sc.Text()
		if cmd, arg, ok := strings.Cut(strings.TrimSpace(line), " "); ok && cmd == "/from" || strings.TrimSpace(line) == "/from" {
			c.switchFrom(arg)
			continue
		}
		if strings.TrimSpace(line) == "/quit" {
			return nil
		}
		if !c.Prompt {
			c.mu.Lock()
			fmt.Fprintf(c.Out, "> %s: %s\n", c.From, line)
			c.mu.Unlock()
		}
		n++
		m := bot.Inbound{Channel: bot.SMS, ExternalID: fmt.Sprintf("console-%d-%d", run, n),
			From: c.From, To: c.To, Text: line, Received: now()}
		if err := c.Pipeline.Handle(ctx, m); err != nil {
			c.mu.Lock()
			fmt.Fprintf(c.Out, "! message not taken: %v\n", err)
			c.mu.Unlock()
			continue
		}
		if c.Waiter != nil {
			if err := c.Waiter.Wait(ctx); err != nil {
				return nil
			}
		}
	}
}

func (c *Channel) switchFrom(arg string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	num := strings.TrimSpace(arg)
	if c.Normalize != nil {
		n, err := c.Normalize(num)
		if err != nil {
			fmt.Fprintf(c.Out, "! /from: %q is not a valid phone number\n", num)
			return
		}
		num = n
	}
	c.From = num
	who := num
	if n := c.Names[num]; n != "" {
		who += " (" + n + ")"
	}
	fmt.Fprintf(c.Out, "* now typing as %s\n", who)
}
