package faultproxy_test

import (
	"bufio"
	"net"
	"testing"
	"time"

	"aduan/internal/faultproxy"
)

// echo is a line echo server on loopback.
func echo(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				sc := bufio.NewScanner(c)
				for sc.Scan() {
					c.Write(append(sc.Bytes(), '\n'))
				}
			}()
		}
	}()
	return ln.Addr().String()
}

// roundTrip sends line on c and returns the answer, or "" if the
// connection was closed.
func roundTrip(t *testing.T, c net.Conn, line string) string {
	t.Helper()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Write([]byte(line + "\n")); err != nil {
		return ""
	}
	got, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return ""
	}
	return got[:len(got)-1]
}

func dial(t *testing.T, p *faultproxy.Proxy) net.Conn {
	c, err := net.Dial("tcp", p.Addr())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func TestDropAndHold(t *testing.T) {
	p := faultproxy.Start(t, echo(t))
	c := dial(t, p)
	if got := roundTrip(t, c, "halo"); got != "halo" {
		t.Fatalf("forwarded: %q, want halo", got)
	}
	p.Drop([]byte("EVALSHA 4a1f"))
	if got := roundTrip(t, c, "x EVALSHA 4a1f y"); got != "" {
		t.Errorf("dropped command answered %q", got)
	}
	c2 := dial(t, p)
	if got := roundTrip(t, c2, "lagi EVALSHA 4a1f"); got != "" || p.Dropped() != 2 {
		t.Errorf("retry on a new connection: %q, dropped %d; want closed, 2", got, p.Dropped())
	}
	p.Reset()
	c3 := dial(t, p)
	if got := roundTrip(t, c3, "EVALSHA 4a1f"); got != "EVALSHA 4a1f" {
		t.Errorf("after Reset: %q", got)
	}

	held := p.Hold([]byte("SIMPAN"))
	c4 := dial(t, p)
	c4.Write([]byte("SIMPAN 1\n"))
	select {
	case <-held:
	case <-time.After(5 * time.Second):
		t.Fatal("nothing held")
	}
	p.Reset()
	c4.SetDeadline(time.Now().Add(5 * time.Second))
	if n, err := c4.Read(make([]byte, 16)); err == nil {
		t.Errorf("held connection read %d bytes after Reset, want it closed and nothing forwarded", n)
	}
}
