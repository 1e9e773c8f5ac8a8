package api

import (
	"context"
	"crypto/sha256"
	"net/http"
)

// KeyFor finds the accepted API key whose hash is secret's, in the key set
// current now: the one check every face of the gateway signs in with (the
// REST middleware and the member console's sign-in).
func (s *Server) KeyFor(secret string) (Key, bool) {
	if secret == "" {
		return Key{}, false
	}
	return s.KeyByHash(sha256.Sum256([]byte(secret)))
}

// KeyByHash finds an accepted key by its hash: a console session keeps the
// hash, never the key, and asks on every request whether it is still
// accepted (SetKeys may have revoked it).
func (s *Server) KeyByHash(hash [32]byte) (Key, bool) {
	k, ok := (*s.keys.Load())[hash]
	return k, ok
}

// callerKey carries a caller authenticated by another face of the gateway
// into the API's middleware; only Go code in this process can set it.
type callerKey struct{}

// Response is an in-process API response.
type Response struct {
	Status int
	Header http.Header
	Body   []byte
}

// Do serves r through the REST API's routes and middleware (rate limits,
// body limits, OpenAPI validation, admission, idempotency, problem+json) as
// caller, without an API key in the request: the member console acts as
// its signed-in key through exactly the code path a REST caller takes.
func (s *Server) Do(ctx context.Context, caller Key, r *http.Request) Response {
	r = r.WithContext(context.WithValue(ctx, callerKey{}, caller))
	w := &recorder{header: http.Header{}}
	s.e.ServeHTTP(w, r)
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return Response{Status: w.status, Header: w.header, Body: w.body}
}

// recorder is the http.ResponseWriter of an in-process call.
type recorder struct {
	header http.Header
	status int
	body   []byte
}

func (w *recorder) Header() http.Header { return w.header }

func (w *recorder) WriteHeader(status int) {
	if w.status == 0 {
		w.status = status
	}
}

func (w *recorder) Write(b []byte) (int, error) {
	w.WriteHeader(http.StatusOK)
	w.body = append(w.body, b...)
	return len(b), nil
}
