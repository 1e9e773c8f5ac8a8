package console

import (
	"fmt"
	"testing"
	"time"
)

func TestSignInLimiterForgetsRefilledAddressesThenSharesOneBucket(t *testing.T) {
	now := time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC)
	l := newSignInLimiter(1, 2) // refilled after 2 s
	l.max = 2
	for _, a := range []string{"10.0.0.1", "10.0.0.2"} {
		if !l.allow(a, now) {
			t.Fatalf("%s refused at its first attempt", a)
		}
	}
	// Full, none refilled: a third address shares the overflow bucket
	// (burst 2), it does not get a bucket of its own.
	for i := range 3 {
		ok := l.allow(fmt.Sprintf("10.9.9.%d", i), now)
		if want := i < 2; ok != want {
			t.Errorf("overflow attempt %d: allowed %v, want %v", i, ok, want)
		}
	}
	if len(l.clients) != 2 {
		t.Errorf("%d buckets kept, want at most 2", len(l.clients))
	}
	// Once the first two have refilled, they are forgotten to make room.
	later := now.Add(3 * time.Second)
	if !l.allow("10.0.0.3", later) || len(l.clients) != 1 {
		t.Errorf("after refilling: %d buckets, want only the new address's", len(l.clients))
	}
}

func TestFullStoreDropsExpiredSessionsBeforeLiveOnes(t *testing.T) {
	now := time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC)
	s := newSessions(2, 8*time.Hour, 30*time.Minute)
	idle, _ := s.create([32]byte{1}, now)
	live, _ := s.create([32]byte{2}, now.Add(20*time.Minute))
	at := now.Add(40 * time.Minute) // idle has been idle 40 min, live 20 min
	s.create([32]byte{3}, at)
	if _, ok := s.get(live, at); !ok {
		t.Error("a live session was dropped while an expired one could go")
	}
	if _, ok := s.get(idle, at); ok {
		t.Error("the expired session is still held")
	}
}
