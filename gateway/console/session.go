package console

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"sync"
	"time"
)

// session is one signed-in browser. It holds the hash of the API key it
// signed in with (never the key) and its CSRF token.
type session struct {
	keyHash  [32]byte
	csrf     string
	created  time.Time
	lastUsed time.Time
}

// sessions are held in memory, at most max at once: a restart signs
// everyone out. They are keyed by the SHA-256 of the ID, so that the map's
// lookup time says nothing about an ID that is held.
type sessions struct {
	mu   sync.Mutex
	byID map[[32]byte]*session
	max  int
	ttl  time.Duration // from sign-in, whatever the use
	idle time.Duration // since the last request
}

func newSessions(max int, ttl, idle time.Duration) *sessions {
	return &sessions{byID: map[[32]byte]*session{}, max: max, ttl: ttl, idle: idle}
}

// randomToken is 32 bytes from the system's CSPRNG, base64url.
func randomToken() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b) // never fails (crypto/rand, Go 1.24)
	return base64.RawURLEncoding.EncodeToString(b)
}

// create starts a session with a fresh ID and CSRF token. A full store
// first drops expired sessions, then the one idle longest: a key holder who
// signs in again and again can only push out sessions, never grow memory.
func (s *sessions) create(keyHash [32]byte, now time.Time) (id string, sess session) {
	id = randomToken()
	sess = session{keyHash: keyHash, csrf: randomToken(), created: now, lastUsed: now}
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.byID) >= s.max {
		s.sweep(now)
	}
	if len(s.byID) >= s.max {
		var oldest [32]byte
		var at time.Time
		for h, v := range s.byID {
			if at.IsZero() || v.lastUsed.Before(at) {
				oldest, at = h, v.lastUsed
			}
		}
		delete(s.byID, oldest)
	}
	stored := sess
	s.byID[sha256.Sum256([]byte(id))] = &stored
	return id, sess
}

// get returns the live session with this ID and marks it used; an expired
// one is dropped.
func (s *sessions) get(id string, now time.Time) (session, bool) {
	if id == "" {
		return session{}, false
	}
	h := sha256.Sum256([]byte(id))
	s.mu.Lock()
	defer s.mu.Unlock()
	v, ok := s.byID[h]
	if !ok {
		return session{}, false
	}
	if s.expired(v, now) {
		delete(s.byID, h)
		return session{}, false
	}
	v.lastUsed = now
	return *v, true
}

// end signs a session out.
func (s *sessions) end(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.byID, sha256.Sum256([]byte(id)))
}

// len is how many sessions are held (expired ones included until swept).
func (s *sessions) len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.byID)
}

func (s *sessions) expired(v *session, now time.Time) bool {
	return now.Sub(v.created) >= s.ttl || now.Sub(v.lastUsed) >= s.idle
}

func (s *sessions) sweep(now time.Time) {
	for h, v := range s.byID {
		if s.expired(v, now) {
			delete(s.byID, h)
		}
	}
}
