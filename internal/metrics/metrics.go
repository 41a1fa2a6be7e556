// Package metrics is aduan's Prometheus instrumentation: a bot.Observer
// that counts what the pipeline and the outbox do, gauges read when
// scraped (the outbox's depth and age, late tickets), the WhatsApp
// connection state, HTTP request counts, and the handler that serves them
// all at GET /metrics. It keeps a registry of its own, never the global one,
// so that tests and several instances in one process do not collide.
//
// Labels take values from small fixed sets (channels, purposes, results,
// kinds, routes): never a phone number, a ticket code or a text.
package metrics

import (
	"context"
	"log/slog"
	"net/http"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"aduan/bot"
)

// OutboxStats reads the outbox's depth; store/sqlstore implements it.
type OutboxStats interface {
	// OutboxStats returns how many messages wait to be sent and when the
	// oldest of them was written (zero when none waits).
	OutboxStats(ctx context.Context) (pending int, oldest time.Time, err error)
}

// Options configures Metrics. Zero values take the defaults.
type Options struct {
	// Outbox is read on every scrape for aduan_outbox_pending and
	// aduan_outbox_oldest_pending_seconds; nil leaves them out.
	Outbox OutboxStats
	// Version and Commit label aduan_build_info.
	Version, Commit string
	// ScrapeTimeout bounds the queries one scrape makes; default 2s.
	ScrapeTimeout time.Duration
	// Now is the clock for ages; default time.Now.
	Now func() time.Time
	// Logger receives scrape errors at debug level; nil discards them.
	Logger *slog.Logger
	// WhatsAppStates are the states the WhatsApp channel reports
	// (whatsapp.States), so that aduan_whatsapp_state has a series for
	// each from the start. WhatsAppDisabled is always one of them.
	WhatsAppStates []string
}

// WhatsAppDisabled is the WhatsApp state until one is set: no WhatsApp
// channel runs.
const WhatsAppDisabled = "disabled"

// The label values created ahead, so that every series exists (at zero)
// from the start and the hot path finds its counter without building a
// label list. Other values still work, through the vector.
var (
	channels     = []bot.Channel{bot.SMS, bot.WhatsApp}
	purposes     = []bot.Purpose{bot.PurposeReply, bot.PurposeNotify}
	inResults    = []string{"ok", "duplicate", "error"}
	outResults   = []string{"sent", "retry", "failed"}
	kinds        = []bot.Kind{bot.KindCase, bot.KindComplaint}
	dependencies = []string{"postgres", "redis"}
)

// Latency buckets in seconds: from a millisecond to Twilio's 15-second
// webhook timeout and beyond.
var latencyBuckets = []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 15, 30}

// Metrics is the Prometheus bot.Observer and the /metrics handler. It is
// safe for concurrent use.
type Metrics struct {
	reg     *prometheus.Registry
	opts    Options
	handler http.Handler

	inbound      *prometheus.CounterVec
	outbound     *prometheus.CounterVec
	batchLatency prometheus.Histogram
	batchSize    prometheus.Histogram
	tickets      *prometheus.CounterVec
	depErrors    *prometheus.CounterVec
	httpRequests *prometheus.CounterVec
	httpLatency  *prometheus.HistogramVec

	// Counters resolved ahead for the usual label values; read-only after
	// New.
	inboundFast  map[[2]string]prometheus.Counter
	outboundFast map[[3]string]prometheus.Counter
	ticketsFast  map[[2]string]prometheus.Counter
	depFast      map[string]prometheus.Counter

	late    atomic.Pointer[func(context.Context) (int, error)]
	gateway atomic.Pointer[func() (up bool, lastHeard time.Time)]
	waFunc  atomic.Pointer[func() string]
	waMu    sync.Mutex
	waState string
	waAll   []string // every state seen or declared, in order
}

var _ bot.Observer = (*Metrics)(nil)

// New returns Metrics with every aduan metric, the Go runtime's and the
// process's, registered on a registry of its own.
func New(o Options) *Metrics {
	if o.ScrapeTimeout <= 0 {
		o.ScrapeTimeout = 2 * time.Second
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	m := &Metrics{reg: prometheus.NewRegistry(), opts: o}
	m.inbound = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "aduan_inbound_messages_total",
		Help: "Inbound messages handled by the pipeline, by channel and result (ok, duplicate: a provider's redelivery, error: not stored, the provider retries).",
	}, []string{"channel", "result"})
	m.outbound = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "aduan_outbound_messages_total",
		Help: "Attempts to send an outbox message, by channel, purpose and result (sent; retry: failed, tried again later; failed: given up).",
	}, []string{"channel", "purpose", "result"})
	m.batchLatency = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name:    "aduan_pipeline_batch_seconds",
		Help:    "Time from the arrival of a batch's oldest message to the commit of its effects.",
		Buckets: latencyBuckets,
	})
	m.batchSize = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name:    "aduan_pipeline_batch_messages",
		Help:    "Messages handled in one pipeline batch (one transaction).",
		Buckets: []float64{1, 2, 4, 8, 16, 32, 64, 128, 256},
	})
	m.tickets = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "aduan_tickets_opened_total",
		Help: "Tickets opened, by kind (case, complaint) and whether the reporter said the victim is in danger.",
	}, []string{"kind", "urgent"})
	m.depErrors = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "aduan_dependency_errors_total",
		Help: "Errors talking to a dependency (postgres, redis).",
	}, []string{"dependency"})
	m.httpRequests = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "aduan_http_requests_total",
		Help: "HTTP requests answered, by method, route path and status code (403 on a webhook: bad signature, check http.public_url and the auth token).",
	}, []string{"method", "path", "code"})
	m.httpLatency = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "aduan_http_request_duration_seconds",
		Help:    "Time to answer an HTTP request, by method and route path; a webhook is answered once its message is stored.",
		Buckets: latencyBuckets,
	}, []string{"method", "path"})
	buildInfo := prometheus.NewGauge(prometheus.GaugeOpts{
		Name:        "aduan_build_info",
		Help:        "Always 1; the labels say which build is running.",
		ConstLabels: prometheus.Labels{"version": o.Version, "commit": o.Commit, "goversion": runtime.Version()},
	})
	buildInfo.Set(1)
	m.reg.MustRegister(m.inbound, m.outbound, m.batchLatency, m.batchSize, m.tickets, m.depErrors,
		m.httpRequests, m.httpLatency, buildInfo, &scrape{m: m},
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))

	m.inboundFast = make(map[[2]string]prometheus.Counter)
	m.outboundFast = make(map[[3]string]prometheus.Counter)
	m.ticketsFast = make(map[[2]string]prometheus.Counter)
	m.depFast = make(map[string]prometheus.Counter)
	for _, ch := range channels {
		for _, r := range inResults {
			m.inboundFast[[2]string{string(ch), r}] = m.inbound.WithLabelValues(string(ch), r)
		}
		for _, p := range purposes {
			for _, r := range outResults {
				m.outboundFast[[3]string{string(ch), string(p), r}] = m.outbound.WithLabelValues(string(ch), string(p), r)
			}
		}
	}
	for _, k := range kinds {
		for _, u := range []string{"false", "true"} {
			m.ticketsFast[[2]string{string(k), u}] = m.tickets.WithLabelValues(string(k), u)
		}
	}
	for _, d := range dependencies {
		m.depFast[d] = m.depErrors.WithLabelValues(d)
	}
	m.waState = WhatsAppDisabled
	m.waAll = []string{WhatsAppDisabled}
	for _, st := range o.WhatsAppStates {
		m.knowWhatsAppState(st)
	}
	m.handler = promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{
		ErrorHandling:     promhttp.ContinueOnError,
		Registry:          m.reg, // counts promhttp's own errors
		EnableOpenMetrics: false,
	})
	return m
}

// Handler serves the metrics in Prometheus's text format, for GET /metrics.
// A collector that fails (the database is down) leaves its metrics out of
// the answer; the rest is served.
func (m *Metrics) Handler() http.Handler { return m.handler }

// Registry returns the registry, for tests and for registering more
// collectors (whatsmeow's, say).
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// Inbound counts a message the pipeline handled.
func (m *Metrics) Inbound(ch bot.Channel, result string) {
	if c, ok := m.inboundFast[[2]string{string(ch), result}]; ok {
		c.Inc()
		return
	}
	m.inbound.WithLabelValues(string(ch), result).Inc()
}

// Outbound counts an attempt to send a message.
func (m *Metrics) Outbound(ch bot.Channel, p bot.Purpose, result string) {
	if c, ok := m.outboundFast[[3]string{string(ch), string(p), result}]; ok {
		c.Inc()
		return
	}
	m.outbound.WithLabelValues(string(ch), string(p), result).Inc()
}

// Batch records one pipeline batch: its size and its latency.
func (m *Metrics) Batch(messages int, latency time.Duration) {
	m.batchSize.Observe(float64(messages))
	m.batchLatency.Observe(latency.Seconds())
}

// TicketOpened counts a new ticket.
func (m *Metrics) TicketOpened(k bot.Kind, urgent bool) {
	u := strconv.FormatBool(urgent)
	if c, ok := m.ticketsFast[[2]string{string(k), u}]; ok {
		c.Inc()
		return
	}
	m.tickets.WithLabelValues(string(k), u).Inc()
}

// DependencyError counts an error talking to a dependency.
func (m *Metrics) DependencyError(dep string) {
	if c, ok := m.depFast[dep]; ok {
		c.Inc()
		return
	}
	m.depErrors.WithLabelValues(dep).Inc()
}

// ObserveHTTP records one answered HTTP request. method and path must come
// from fixed sets, such as the ServeMux pattern that matched ("POST",
// "/webhooks/twilio"), never from the request itself: a client would
// choose the labels, and their number.
func (m *Metrics) ObserveHTTP(method, path string, code int, took time.Duration) {
	m.httpRequests.WithLabelValues(method, path, strconv.Itoa(code)).Inc()
	m.httpLatency.WithLabelValues(method, path).Observe(took.Seconds())
}

// SetWhatsAppState records the WhatsApp connection's state, for a channel
// that reports its changes. WatchWhatsApp, when set, takes precedence.
func (m *Metrics) SetWhatsAppState(state string) {
	m.waMu.Lock()
	defer m.waMu.Unlock()
	m.waState = state
	m.knowWhatsAppState(state)
}

// WatchWhatsApp sets the function that says the WhatsApp connection's
// state, read on every scrape: the channel's State method.
func (m *Metrics) WatchWhatsApp(state func() string) {
	m.waFunc.Store(&state)
}

// WhatsAppState returns the state as the next scrape reports it.
func (m *Metrics) WhatsAppState() string {
	if f := m.waFunc.Load(); f != nil {
		return (*f)()
	}
	m.waMu.Lock()
	defer m.waMu.Unlock()
	return m.waState
}

// knowWhatsAppState adds state to those reported; m.waMu is held or m is
// not yet shared.
func (m *Metrics) knowWhatsAppState(state string) {
	for _, s := range m.waAll {
		if s == state {
			return
		}
	}
	m.waAll = append(m.waAll, state)
}

// SetTicketsLate sets the function that counts the tickets now past a
// deadline of the service standard, read on every scrape for
// aduan_tickets_late. Until it is set the gauge is 0; when it fails, the
// gauge is left out of that scrape.
func (m *Metrics) SetTicketsLate(count func(ctx context.Context) (int, error)) {
	m.late.Store(&count)
}

// WatchSMSGateway sets the function that says whether the SMS gateway
// phone is up and when it was last heard from (zero: not since the start),
// read on every scrape for aduan_sms_gateway_up and
// aduan_sms_gateway_last_heard_seconds. Until it is set neither is
// reported: no gateway phone is used.
func (m *Metrics) WatchSMSGateway(state func() (up bool, lastHeard time.Time)) {
	m.gateway.Store(&state)
}

// scrape collects the gauges read at scrape time.
type scrape struct{ m *Metrics }

var (
	outboxPendingDesc = prometheus.NewDesc("aduan_outbox_pending",
		"Outbox messages waiting to be sent, including those waiting for a retry.", nil, nil)
	outboxOldestDesc = prometheus.NewDesc("aduan_outbox_oldest_pending_seconds",
		"Age of the oldest outbox message waiting to be sent; 0 when none waits.", nil, nil)
	ticketsLateDesc = prometheus.NewDesc("aduan_tickets_late",
		"Tickets now past a deadline of the service standard (30 minutes to a first response, 7 days to done).", nil, nil)
	whatsAppDesc = prometheus.NewDesc("aduan_whatsapp_state",
		"The WhatsApp connection's state: 1 for the current one, 0 for the others (disabled: no WhatsApp channel).",
		[]string{"state"}, nil)
	gatewayUpDesc = prometheus.NewDesc("aduan_sms_gateway_up",
		"1 while the SMS gateway phone answers and sends; 0 while it is silent (see smsgate.silent_after) or its sends fail.", nil, nil)
	gatewayHeardDesc = prometheus.NewDesc("aduan_sms_gateway_last_heard_seconds",
		"Time since the SMS gateway phone was last heard from (a webhook, a ping, an answer); absent until it is heard from.", nil, nil)
)

func (s *scrape) Describe(ch chan<- *prometheus.Desc) {
	ch <- outboxPendingDesc
	ch <- outboxOldestDesc
	ch <- ticketsLateDesc
	ch <- whatsAppDesc
	ch <- gatewayUpDesc
	ch <- gatewayHeardDesc
}

func (s *scrape) Collect(ch chan<- prometheus.Metric) {
	m := s.m
	current := m.WhatsAppState()
	m.waMu.Lock()
	m.knowWhatsAppState(current)
	for _, st := range m.waAll {
		v := 0.0
		if st == current {
			v = 1
		}
		ch <- prometheus.MustNewConstMetric(whatsAppDesc, prometheus.GaugeValue, v, st)
	}
	m.waMu.Unlock()
	if f := m.gateway.Load(); f != nil {
		up, heard := (*f)()
		v := 0.0
		if up {
			v = 1
		}
		ch <- prometheus.MustNewConstMetric(gatewayUpDesc, prometheus.GaugeValue, v)
		if !heard.IsZero() {
			ch <- prometheus.MustNewConstMetric(gatewayHeardDesc, prometheus.GaugeValue, max(m.opts.Now().Sub(heard).Seconds(), 0))
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), m.opts.ScrapeTimeout)
	defer cancel()
	if m.opts.Outbox != nil {
		n, oldest, err := m.opts.Outbox.OutboxStats(ctx)
		if err != nil {
			m.DependencyError("postgres")
			m.opts.Logger.Debug("metrics: outbox stats", "err", err)
		} else {
			age := 0.0
			if !oldest.IsZero() {
				age = max(m.opts.Now().Sub(oldest).Seconds(), 0)
			}
			ch <- prometheus.MustNewConstMetric(outboxPendingDesc, prometheus.GaugeValue, float64(n))
			ch <- prometheus.MustNewConstMetric(outboxOldestDesc, prometheus.GaugeValue, age)
		}
	}
	late := 0
	if f := m.late.Load(); f != nil {
		n, err := (*f)(ctx)
		if err != nil {
			m.opts.Logger.Debug("metrics: late tickets", "err", err)
			return
		}
		late = n
	}
	ch <- prometheus.MustNewConstMetric(ticketsLateDesc, prometheus.GaugeValue, float64(late))
}
