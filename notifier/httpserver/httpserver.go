// Package httpserver builds the notifier's HTTP servers — the webhook Meta
// calls, the admin API and the health endpoints — with every timeout set.
// With only a read-header timeout, a client that sends headers and then
// trickles (or withholds) the body, or never reads the answer, keeps a
// connection and a goroutine forever; the webhook faces the internet, and
// the admin and health ports must not be a way to exhaust the process
// either.
package httpserver

import (
	"net/http"
	"time"
)

// Timeouts bound how long one connection may hold a server. Zero fields
// take the defaults.
type Timeouts struct {
	ReadHeader time.Duration // headers (5s)
	Read       time.Duration // whole request including the body, up to a 3 MB webhook (30s)
	Write      time.Duration // handler plus answer (30s)
	Idle       time.Duration // keep-alive between requests (120s)
}

func (t *Timeouts) defaults() {
	if t.ReadHeader <= 0 {
		t.ReadHeader = 5 * time.Second
	}
	if t.Read <= 0 {
		t.Read = 30 * time.Second
	}
	if t.Write <= 0 {
		t.Write = 30 * time.Second
	}
	if t.Idle <= 0 {
		t.Idle = 120 * time.Second
	}
}

// New returns an HTTP server for h with every timeout set and headers
// bounded to 64 KiB (Meta's and our operators' are a few hundred bytes).
func New(h http.Handler, t Timeouts) *http.Server {
	t.defaults()
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: t.ReadHeader,
		ReadTimeout:       t.Read,
		WriteTimeout:      t.Write,
		IdleTimeout:       t.Idle,
		MaxHeaderBytes:    64 << 10,
	}
}
