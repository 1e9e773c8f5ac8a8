package api

import (
	"context"
	"errors"
	"math"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/labstack/echo/v4"
	"golang.org/x/time/rate"
)

// Limits protect the gateway and the network from one caller (per API key:
// a request rate and a number of requests in flight, answered 429) and from
// all of them together (a bounded queue of writes waiting to be submitted,
// answered 503 when full). Zero values disable a limit.
type Limits struct {
	Rate        float64       // requests per second per API key
	Burst       int           // requests a key may send at once above Rate (default: Rate, at least 1)
	InFlight    int           // requests per API key being served at a time
	Submissions int           // writes being submitted to Fabric at a time, across keys
	Queue       int           // writes waiting for a submission slot; one more is refused at once
	QueueWait   time.Duration // longest a write waits for a slot (default 10s)
}

// keyLimits are one API key's budget: a token bucket and a count of the
// requests it has in flight.
type keyLimits struct {
	bucket   *rate.Limiter
	inFlight atomic.Int64
}

// limiter holds every key's budget, made on first use.
type limiter struct {
	l    Limits
	mu   sync.Mutex
	keys map[string]*keyLimits
}

func newLimiter(l Limits) *limiter {
	if l.Burst <= 0 {
		l.Burst = max(1, int(math.Ceil(l.Rate)))
	}
	return &limiter{l: l, keys: map[string]*keyLimits{}}
}

func (l *limiter) of(key string) *keyLimits {
	l.mu.Lock()
	defer l.mu.Unlock()
	k, ok := l.keys[key]
	if !ok {
		k = &keyLimits{}
		if l.l.Rate > 0 {
			k.bucket = rate.NewLimiter(rate.Limit(l.l.Rate), l.l.Burst)
		}
		l.keys[key] = k
	}
	return k
}

// limit applies the caller's rate and in-flight limits. It runs after
// authenticate and before the body is read, so a caller over its budget
// costs the gateway almost nothing.
func (s *Server) limit(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		k := s.limiter.of(callerOf(c).Name)
		if k.bucket != nil {
			now := s.now()
			r := k.bucket.ReserveN(now, 1)
			if d := r.DelayFrom(now); !r.OK() || d > 0 {
				r.CancelAt(now) // a refused request spends nothing
				s.metrics.limited.WithLabelValues("rate").Inc()
				p := problem(http.StatusTooManyRequests, "rate-limited", "Too many requests for this API key",
					"slow down to the key's rate; retry after the time in Retry-After")
				p.retryAfter = max(1, int(math.Ceil(d.Seconds())))
				return p
			}
		}
		if max := int64(s.limiter.l.InFlight); max > 0 {
			if k.inFlight.Add(1) > max {
				k.inFlight.Add(-1)
				s.metrics.limited.WithLabelValues("in_flight").Inc()
				p := problem(http.StatusTooManyRequests, "too-many-in-flight", "Too many requests in flight for this API key",
					"wait for an answer before sending more")
				p.retryAfter = 1
				return p
			}
			defer k.inFlight.Add(-1)
		}
		return next(c)
	}
}

// admission is the bounded queue in front of Fabric: at most Submissions
// writes are submitted at a time, at most Queue more wait for a slot, each
// at most QueueWait. A write beyond that is refused at once with 503 rather
// than waiting without bound, holding a connection and memory while the
// network is slow.
type admission struct {
	slots   chan struct{} // nil: no limit
	queued  atomic.Int64
	maxWait time.Duration
	queue   int64
}

var errQueueFull = errors.New("submission queue full")

func newAdmission(l Limits) *admission {
	a := &admission{maxWait: l.QueueWait, queue: int64(l.Queue)}
	if a.maxWait <= 0 {
		a.maxWait = 10 * time.Second
	}
	if l.Submissions > 0 {
		a.slots = make(chan struct{}, l.Submissions)
	}
	return a
}

func (a *admission) waiting() int64 { return a.queued.Load() }

// acquire takes a submission slot, waiting in the queue if there is room.
func (a *admission) acquire(ctx context.Context) (release func(), err error) {
	if a.slots == nil {
		return func() {}, nil
	}
	select {
	case a.slots <- struct{}{}:
		return a.release, nil
	default:
	}
	if a.queued.Add(1) > a.queue {
		a.queued.Add(-1)
		return nil, errQueueFull
	}
	defer a.queued.Add(-1)
	t := time.NewTimer(a.maxWait)
	defer t.Stop()
	select {
	case a.slots <- struct{}{}:
		return a.release, nil
	case <-t.C:
		return nil, context.DeadlineExceeded
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func (a *admission) release() { <-a.slots }

// admit holds a write until a submission slot is free (see admission).
func (s *Server) admit(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		if c.Request().Method == http.MethodGet {
			return next(c)
		}
		release, err := s.admission.acquire(c.Request().Context())
		if err != nil {
			if c.Request().Context().Err() != nil {
				return err // the caller left while queued
			}
			reason := "queue_full"
			if !errors.Is(err, errQueueFull) {
				reason = "queue_timeout"
			}
			s.metrics.limited.WithLabelValues(reason).Inc()
			p := problem(http.StatusServiceUnavailable, "overloaded", "The gateway has too many writes waiting",
				"nothing was submitted; retry later")
			p.retryAfter, p.cause = 2, err
			return p
		}
		defer release()
		s.metrics.queued.Set(float64(s.admission.waiting()))
		return next(c)
	}
}
