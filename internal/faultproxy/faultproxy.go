// Package faultproxy is a TCP proxy for fault-injection tests: put it
// between a process and a server (Redis, PostgreSQL) and it forwards bytes
// both ways until told to fail the connection that carries a given command.
// It looks at what the client sends for a byte pattern (a Lua script's
// SHA1, a command name), so that a test can drop exactly the write it
// wants to lose, or hold it while it kills the process.
//
// It only listens on loopback and only dials the target it is given.
package faultproxy

import (
	"bytes"
	"io"
	"net"
	"sync"
	"testing"
)

// Proxy forwards connections from its address to a target. It is safe for
// concurrent use.
type Proxy struct {
	ln     net.Listener
	target string

	mu      sync.Mutex
	rule    rule
	held    chan struct{} // closed when the hold rule first holds
	dropped int
	conns   map[net.Conn]bool
	wg      sync.WaitGroup
}

type rule struct {
	pattern []byte
	hold    bool // hold instead of drop
}

// Start listens on a free loopback port and forwards to target until the
// test ends.
func Start(t testing.TB, target string) *Proxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &Proxy{ln: ln, target: target, conns: map[net.Conn]bool{}}
	p.wg.Add(1)
	go p.accept()
	t.Cleanup(p.Close)
	return p
}

// Addr is where the proxy listens (host:port).
func (p *Proxy) Addr() string { return p.ln.Addr().String() }

// Drop makes the proxy close, both ways, every connection on which the
// client sends pattern, before the bytes carrying it reach the target
// (so that a client's retry on a new connection is dropped too), until
// Reset.
func (p *Proxy) Drop(pattern []byte) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.rule = rule{pattern: bytes.Clone(pattern)}
}

// Hold makes the proxy keep, unsent, the bytes carrying pattern and
// everything after them on that connection, until Reset (which then
// closes the connection: what was held is never sent). The channel it
// returns is closed when something is first held.
func (p *Proxy) Hold(pattern []byte) <-chan struct{} {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.rule = rule{pattern: bytes.Clone(pattern), hold: true}
	p.held = make(chan struct{})
	return p.held
}

// Reset ends Drop or Hold: connections held are closed, later ones are
// forwarded.
func (p *Proxy) Reset() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.rule = rule{}
	for c, held := range p.conns {
		if held {
			c.Close()
		}
	}
}

// Dropped says how many connections Drop has closed.
func (p *Proxy) Dropped() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.dropped
}

// Close stops listening and closes every connection.
func (p *Proxy) Close() {
	p.ln.Close()
	p.mu.Lock()
	for c := range p.conns {
		c.Close()
	}
	p.mu.Unlock()
	p.wg.Wait()
}

func (p *Proxy) accept() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		s, err := net.Dial("tcp", p.target)
		if err != nil {
			c.Close()
			continue
		}
		p.mu.Lock()
		p.conns[c], p.conns[s] = false, false
		p.mu.Unlock()
		p.wg.Add(2)
		go func() {
			defer p.wg.Done()
			io.Copy(c, s) // server to client: never looked at
			c.Close()
			s.Close()
		}()
		go func() {
			defer p.wg.Done()
			p.forward(s, c)
			c.Close()
			s.Close()
		}()
	}
}

// forward copies what the client c sends to the server s, applying the
// rule to each read (with the end of the one before, so that a pattern
// split across two reads is seen).
func (p *Proxy) forward(s, c net.Conn) {
	buf := make([]byte, 64<<10)
	var tail []byte
	for {
		n, err := c.Read(buf)
		if n > 0 {
			chunk := buf[:n]
			p.mu.Lock()
			r := p.rule
			p.mu.Unlock()
			if len(r.pattern) > 0 && bytes.Contains(append(tail, chunk...), r.pattern) {
				if !r.hold {
					p.mu.Lock()
					p.dropped++
					p.mu.Unlock()
					return
				}
				p.mu.Lock()
				p.conns[c] = true
				if p.held != nil {
					select {
					case <-p.held:
					default:
						close(p.held)
					}
				}
				p.mu.Unlock()
				io.Copy(io.Discard, c) // until Reset or Close closes c
				return
			}
			if _, werr := s.Write(chunk); werr != nil {
				return
			}
			if k := len(r.pattern) - 1; k > 0 {
				tail = append(tail[:0], chunk[max(0, len(chunk)-k):]...)
			}
		}
		if err != nil {
			return
		}
	}
}
