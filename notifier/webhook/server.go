package webhook

import (
	"net/http"
	"time"
)

// ServerTimeouts bound how long one webhook connection may hold the
// server. The endpoint faces the internet: with only a read-header
// timeout, a client that sends headers and then trickles (or withholds)
// the body keeps a connection and a goroutine forever.
type ServerTimeouts struct {
	ReadHeader time.Duration // headers (5s)
	Read       time.Duration // whole request including a 3 MB body (30s)
	Write      time.Duration // handler plus answer (30s)
	Idle       time.Duration // keep-alive between requests (120s)
}

func (t *ServerTimeouts) defaults() {
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

// NewServer returns the HTTP server for the webhook handler h, with every
// timeout set and headers bounded to 64 KiB (Meta's are a few hundred bytes).
func NewServer(h http.Handler, t ServerTimeouts) *http.Server {
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
