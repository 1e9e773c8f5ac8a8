package console

import (
	"crypto/subtle"
	"net"
	"net/http"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// sameOrigin refuses a state-changing request another site made the
// browser send: Sec-Fetch-Site, when the browser sends it, must be
// same-origin; Origin, when sent, must be this gateway's own. A request
// with neither (an old browser, curl) still needs the CSRF token.
func sameOrigin(r *http.Request, tls bool) bool {
	if site := r.Header.Get("Sec-Fetch-Site"); site != "" && site != "same-origin" {
		return false
	}
	if origin := r.Header.Get("Origin"); origin != "" {
		scheme := "http"
		if tls {
			scheme = "https"
		}
		return origin == scheme+"://"+r.Host
	}
	return true
}

// tokenMatches compares a form's CSRF token with the session's in constant
// time.
func tokenMatches(got, want string) bool {
	return want != "" && subtle.ConstantTimeCompare([]byte(got), []byte(want)) == 1
}

// clientAddr is the connection's own address, not X-Forwarded-For: a
// header the client writes would let it pick a fresh rate-limit bucket per
// guess. Behind a proxy every client shares the proxy's bucket.
func clientAddr(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// signInLimiter bounds sign-in attempts per client address with a token
// bucket each. At most maxClients buckets are kept; beyond that, addresses
// not seen for a while are forgotten, and if none is, new addresses share
// one bucket (an attacker with many addresses slows everyone's sign-in, he
// does not get more guesses).
type signInLimiter struct {
	mu      sync.Mutex
	every   rate.Limit
	burst   int
	clients map[string]*client
	shared  *rate.Limiter
	max     int
}

type client struct {
	limiter *rate.Limiter
	seen    time.Time
}

const maxClients = 10000

func newSignInLimiter(perSecond float64, burst int) *signInLimiter {
	return &signInLimiter{every: rate.Limit(perSecond), burst: burst, clients: map[string]*client{},
		shared: rate.NewLimiter(rate.Limit(perSecond), burst), max: maxClients}
}

// allow takes one attempt from addr's bucket.
func (l *signInLimiter) allow(addr string, now time.Time) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	c, ok := l.clients[addr]
	if !ok {
		if len(l.clients) >= l.max {
			l.forget(now)
		}
		if len(l.clients) >= l.max {
			return l.shared.AllowN(now, 1)
		}
		c = &client{limiter: rate.NewLimiter(l.every, l.burst)}
		l.clients[addr] = c
	}
	c.seen = now
	return c.limiter.AllowN(now, 1)
}

// forget drops the buckets that have refilled: their clients lose nothing.
func (l *signInLimiter) forget(now time.Time) {
	full := time.Duration(float64(l.burst) / float64(l.every) * float64(time.Second))
	for a, c := range l.clients {
		if now.Sub(c.seen) > full {
			delete(l.clients, a)
		}
	}
}
