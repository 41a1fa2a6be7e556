package metrics_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"

	"aduan/bot"
	"aduan/internal/metrics"
)

// value scrapes m once and returns the value of the series name{labels},
// and whether it was gathered at all.
func value(t *testing.T, m *metrics.Metrics, name string, labels map[string]string) (float64, bool) {
	t.Helper()
	return find(gather(t, m), name, labels)
}

func gather(t *testing.T, m *metrics.Metrics) []*dto.MetricFamily {
	t.Helper()
	mfs, err := m.Registry().Gather()
	if err != nil {
		t.Fatalf("Gather: %v", err)
	}
	return mfs
}

// find returns the value of the series name{labels} in mfs: a counter's or
// gauge's value, a histogram's sample count.
func find(mfs []*dto.MetricFamily, name string, labels map[string]string) (float64, bool) {
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	series:
		for _, s := range mf.GetMetric() {
			have := map[string]string{}
			for _, lp := range s.GetLabel() {
				have[lp.GetName()] = lp.GetValue()
			}
			for k, v := range labels {
				if have[k] != v {
					continue series
				}
			}
			switch mf.GetType() {
			case dto.MetricType_COUNTER:
				return s.GetCounter().GetValue(), true
			case dto.MetricType_GAUGE:
				return s.GetGauge().GetValue(), true
			case dto.MetricType_HISTOGRAM:
				return float64(s.GetHistogram().GetSampleCount()), true
			}
		}
	}
	return 0, false
}

func TestObserverCounts(t *testing.T) {
	m := metrics.New(metrics.Options{Version: "v1.2.3", Commit: "abc1234"})
	var o bot.Observer = m
	o.Inbound(bot.SMS, "ok")
	o.Inbound(bot.SMS, "ok")
	o.Inbound(bot.SMS, "duplicate")
	o.Inbound(bot.WhatsApp, "error")
	o.Inbound(bot.Console, "ok") // not created ahead: still counted
	o.Outbound(bot.SMS, bot.PurposeNotify, "sent")
	o.Outbound(bot.SMS, bot.PurposeReply, "retry")
	o.Outbound(bot.SMS, bot.PurposeReply, "retry")
	o.Outbound(bot.SMS, bot.PurposeReply, "failed")
	o.Outbound(bot.SMS, "relay", "sent")
	o.Batch(3, 20*time.Millisecond)
	o.Batch(1, 2*time.Second)
	o.TicketOpened(bot.KindCase, true)
	o.TicketOpened(bot.KindComplaint, false)
	o.DependencyError("redis")
	o.DependencyError("postgres")
	o.DependencyError("postgres")
	m.ObserveHTTP("POST", "/webhooks/twilio", 200, time.Millisecond)
	m.ObserveHTTP("POST", "/webhooks/twilio", 503, time.Millisecond)

	tests := []struct {
		name   string
		labels map[string]string
		want   float64
	}{
		{"aduan_inbound_messages_total", map[string]string{"channel": "sms", "result": "ok"}, 2},
		{"aduan_inbound_messages_total", map[string]string{"channel": "sms", "result": "duplicate"}, 1},
		{"aduan_inbound_messages_total", map[string]string{"channel": "sms", "result": "error"}, 0},
		{"aduan_inbound_messages_total", map[string]string{"channel": "whatsapp", "result": "error"}, 1},
		{"aduan_inbound_messages_total", map[string]string{"channel": "console", "result": "ok"}, 1},
		{"aduan_outbound_messages_total", map[string]string{"channel": "sms", "purpose": "notify", "result": "sent"}, 1},
		{"aduan_outbound_messages_total", map[string]string{"channel": "sms", "purpose": "reply", "result": "retry"}, 2},
		{"aduan_outbound_messages_total", map[string]string{"channel": "sms", "purpose": "reply", "result": "failed"}, 1},
		{"aduan_outbound_messages_total", map[string]string{"channel": "sms", "purpose": "relay", "result": "sent"}, 1},
		{"aduan_pipeline_batch_seconds", nil, 2},
		{"aduan_pipeline_batch_messages", nil, 2},
		{"aduan_tickets_opened_total", map[string]string{"kind": "case", "urgent": "true"}, 1},
		{"aduan_tickets_opened_total", map[string]string{"kind": "case", "urgent": "false"}, 0},
		{"aduan_tickets_opened_total", map[string]string{"kind": "complaint", "urgent": "false"}, 1},
		{"aduan_dependency_errors_total", map[string]string{"dependency": "postgres"}, 2},
		{"aduan_dependency_errors_total", map[string]string{"dependency": "redis"}, 1},
		{"aduan_http_requests_total", map[string]string{"method": "POST", "path": "/webhooks/twilio", "code": "503"}, 1},
		{"aduan_http_request_duration_seconds", map[string]string{"method": "POST", "path": "/webhooks/twilio"}, 2},
		{"aduan_build_info", map[string]string{"version": "v1.2.3", "commit": "abc1234"}, 1},
		{"aduan_tickets_late", nil, 0},
		{"go_goroutines", nil, -1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := value(t, m, tt.name, tt.labels)
			if !ok {
				t.Fatalf("%s%v not gathered", tt.name, tt.labels)
			}
			if tt.want >= 0 && got != tt.want {
				t.Errorf("%s%v = %v, want %v", tt.name, tt.labels, got, tt.want)
			}
		})
	}
	if _, ok := value(t, m, "aduan_outbox_pending", nil); ok {
		t.Errorf("aduan_outbox_pending gathered without an outbox to read")
	}
}

// outboxFunc adapts a function to metrics.OutboxStats.
type outboxFunc func(ctx context.Context) (int, time.Time, error)

func (f outboxFunc) OutboxStats(ctx context.Context) (int, time.Time, error) { return f(ctx) }

func TestScrapeGauges(t *testing.T) {
	now := time.Date(2026, 11, 5, 8, 0, 0, 0, time.UTC)
	var (
		mu      sync.Mutex
		pending int
		oldest  time.Time
		err     error
	)
	set := func(p int, o time.Time, e error) {
		mu.Lock()
		defer mu.Unlock()
		pending, oldest, err = p, o, e
	}
	m := metrics.New(metrics.Options{Now: func() time.Time { return now },
		Outbox: outboxFunc(func(ctx context.Context) (int, time.Time, error) {
			if _, ok := ctx.Deadline(); !ok {
				t.Errorf("outbox read without a deadline")
			}
			mu.Lock()
			defer mu.Unlock()
			return pending, oldest, err
		})})

	tests := []struct {
		label             string
		pending           int
		oldest            time.Time
		err               error
		wantPending       float64
		wantAge           float64
		wantGathered      bool
		wantPostgresError float64
	}{
		{"empty", 0, time.Time{}, nil, 0, 0, true, 0},
		{"waiting", 7, now.Add(-90 * time.Second), nil, 7, 90, true, 0},
		{"clock behind", 1, now.Add(time.Second), nil, 1, 0, true, 0},
		{"database down", 0, time.Time{}, errors.New("connection refused"), 0, 0, false, 1},
	}
	for _, tt := range tests {
		t.Run(tt.label, func(t *testing.T) {
			set(tt.pending, tt.oldest, tt.err)
			mfs := gather(t, m) // one scrape
			p, ok := find(mfs, "aduan_outbox_pending", nil)
			age, _ := find(mfs, "aduan_outbox_oldest_pending_seconds", nil)
			if ok != tt.wantGathered {
				t.Fatalf("gathered = %v, want %v", ok, tt.wantGathered)
			}
			if p != tt.wantPending || age != tt.wantAge {
				t.Errorf("pending, age = %v, %v, want %v, %v", p, age, tt.wantPending, tt.wantAge)
			}
			// Collectors run concurrently within one scrape: the error
			// counted by this one shows in the next.
			set(0, time.Time{}, nil)
			if got, _ := value(t, m, "aduan_dependency_errors_total", map[string]string{"dependency": "postgres"}); got != tt.wantPostgresError {
				t.Errorf("postgres errors = %v, want %v", got, tt.wantPostgresError)
			}
		})
	}
}

func TestTicketsLate(t *testing.T) {
	m := metrics.New(metrics.Options{})
	if got, ok := value(t, m, "aduan_tickets_late", nil); !ok || got != 0 {
		t.Fatalf("before SetTicketsLate: %v, %v, want 0, true", got, ok)
	}
	m.SetTicketsLate(func(context.Context) (int, error) { return 4, nil })
	if got, _ := value(t, m, "aduan_tickets_late", nil); got != 4 {
		t.Errorf("aduan_tickets_late = %v, want 4", got)
	}
	m.SetTicketsLate(func(context.Context) (int, error) { return 0, errors.New("down") })
	if got, ok := value(t, m, "aduan_tickets_late", nil); ok {
		t.Errorf("aduan_tickets_late = %v when its count fails, want it left out", got)
	}
}

func TestWhatsAppState(t *testing.T) {
	states := []string{"stopped", "connecting", "connected", "logged_out"}
	m := metrics.New(metrics.Options{WhatsAppStates: states})
	var watched atomic.Value
	tests := []struct {
		label string
		do    func()
		want  string
		all   []string // the series there must be
	}{
		{"at first", func() {}, metrics.WhatsAppDisabled, append([]string{"disabled"}, states...)},
		{"set", func() { m.SetWhatsAppState("connected") }, "connected", nil},
		{"set an undeclared state", func() { m.SetWhatsAppState("replaced") }, "replaced", []string{"replaced", "connected"}},
		{"watched", func() {
			watched.Store("connecting")
			m.WatchWhatsApp(func() string { return watched.Load().(string) })
		}, "connecting", nil},
		{"watched, changed", func() { watched.Store("logged_out") }, "logged_out", nil},
		{"watched wins over set", func() { m.SetWhatsAppState("connected") }, "logged_out", nil},
	}
	for _, tt := range tests {
		t.Run(tt.label, func(t *testing.T) {
			tt.do()
			if got := m.WhatsAppState(); got != tt.want {
				t.Errorf("WhatsAppState() = %q, want %q", got, tt.want)
			}
			mfs := gather(t, m)
			for _, s := range tt.all {
				if _, ok := find(mfs, "aduan_whatsapp_state", map[string]string{"state": s}); !ok {
					t.Errorf("no series for state %s", s)
				}
			}
			ones := 0
			for _, mf := range mfs {
				if mf.GetName() != "aduan_whatsapp_state" {
					continue
				}
				for _, s := range mf.GetMetric() {
					if s.GetGauge().GetValue() == 1 {
						ones++
						if st := s.GetLabel()[0].GetValue(); st != tt.want {
							t.Errorf("state %s = 1, want %s", st, tt.want)
						}
					}
				}
			}
			if ones != 1 {
				t.Errorf("%d states at 1, want exactly one", ones)
			}
		})
	}
}

func TestHandlerServesText(t *testing.T) {
	m := metrics.New(metrics.Options{})
	m.Inbound(bot.SMS, "ok")
	srv := httptest.NewServer(m.Handler())
	defer srv.Close()
	resp, err := http.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/plain") {
		t.Fatalf("status %d, content type %q, want 200 text/plain", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	for _, want := range []string{
		`aduan_inbound_messages_total{channel="sms",result="ok"} 1`,
		`# HELP aduan_outbound_messages_total`,
		`aduan_whatsapp_state{state="disabled"} 1`,
		`process_start_time_seconds`,
	} {
		if !strings.Contains(string(body), want) {
			t.Errorf("scrape lacks %q", want)
		}
	}
}

func TestConcurrentUse(t *testing.T) {
	m := metrics.New(metrics.Options{})
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range 1000 {
				m.Inbound(bot.SMS, "ok")
				m.Outbound(bot.SMS, bot.PurposeReply, "sent")
				if i == 0 && j%100 == 0 {
					m.SetWhatsAppState("connected")
					m.Registry().Gather()
				}
			}
		}()
	}
	wg.Wait()
	if got, _ := value(t, m, "aduan_inbound_messages_total", map[string]string{"channel": "sms", "result": "ok"}); got != 8000 {
		t.Errorf("inbound = %v, want 8000", got)
	}
}

func BenchmarkInbound(b *testing.B) {
	m := metrics.New(metrics.Options{})
	b.ReportAllocs()
	for b.Loop() {
		m.Inbound(bot.SMS, "ok")
	}
}

func TestSMSGateway(t *testing.T) {
	now := time.Date(2026, 3, 1, 8, 0, 0, 0, time.UTC)
	m := metrics.New(metrics.Options{Now: func() time.Time { return now }})
	if _, ok := value(t, m, "aduan_sms_gateway_up", nil); ok {
		t.Fatal("aduan_sms_gateway_up reported with no gateway watched")
	}
	up, heard := true, time.Time{}
	m.WatchSMSGateway(func() (bool, time.Time) { return up, heard })
	if v, ok := value(t, m, "aduan_sms_gateway_up", nil); !ok || v != 1 {
		t.Fatalf("up = %v, %v; want 1", v, ok)
	}
	if _, ok := value(t, m, "aduan_sms_gateway_last_heard_seconds", nil); ok {
		t.Fatal("last heard reported before the phone was heard from")
	}
	up, heard = false, now.Add(-12*time.Minute)
	if v, _ := value(t, m, "aduan_sms_gateway_up", nil); v != 0 {
		t.Fatalf("up = %v with the phone silent, want 0", v)
	}
	if v, _ := value(t, m, "aduan_sms_gateway_last_heard_seconds", nil); v != 720 {
		t.Fatalf("last heard = %v s, want 720", v)
	}
}
