package service

import (
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/shiptrace/shiptrace/notifier"
	"github.com/shiptrace/shiptrace/notifier/config"
	"github.com/shiptrace/shiptrace/notifier/decide"
	"github.com/shiptrace/shiptrace/notifier/outbox"
	"github.com/shiptrace/shiptrace/notifier/policy"
	"github.com/shiptrace/shiptrace/notifier/template"
	"github.com/shiptrace/shiptrace/shipment"
)

// fakeClock is the simulated time the store and the test share.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time  { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *fakeClock) Set(t time.Time) { c.mu.Lock(); c.t = t; c.mu.Unlock() }

// TestCapAndQuietHoursOverASimulatedDay spreads events over 24 h to buyers
// in five time zones and drains the real bbolt outbox minute by simulated
// minute, restarting it in the middle: every non-urgent message goes
// outside its recipient's quiet hours (21:00-08:00 local), at most three
// per local day, each exactly once; breaches go at once; while held, the
// listing shows them deferred with notBefore.
func TestCapAndQuietHoursOverASimulatedDay(t *testing.T) {
	const cap = 3
	buyers := map[string]string{ // number → the zone its quiet hours must follow
		"+5511987654321": "America/Sao_Paulo",
		"+4915112345678": "Europe/Berlin",
		"+525512345678":  "America/Mexico_City",
		"+819012345678":  "Asia/Tokyo",
		"+919876543210":  "Asia/Kolkata",
	}
	start, end, _ := policy.ParseQuietHours("21:00-08:00")
	pol := policy.New(policy.Config{DailyCap: cap, QuietStart: start, QuietEnd: end, Urgent: []string{notifier.EventColdChainBreached}})
	r, err := template.New(config.DefaultTemplates())
	if err != nil {
		t.Fatal(err)
	}
	refs, _ := notifier.NewRefKey([]byte(phoneRefKeyForTest))
	d, err := decide.New(decide.Config{ExporterMSP: "ExporterMSP", Rules: config.DefaultRules(), Policy: pol, Refs: refs}, r)
	if err != nil {
		t.Fatal(err)
	}
	clock := &fakeClock{t: time.Date(2026, 12, 3, 0, 0, 0, 0, time.UTC)}
	day0 := clock.Now()
	path := filepath.Join(t.TempDir(), "notifier.db")
	open := func() *outbox.Store {
		st, err := outbox.Open(path, outbox.WithClock(clock.Now), outbox.WithRefKey(refs))
		if err != nil {
			t.Fatal(err)
		}
		return st
	}
	st := open()
	defer func() { st.Close() }()

	// Events: every 90 minutes a shipment.shipped per buyer (16 a day
	// each, far over the cap), and one breach per buyer at 02:00 local.
	type event struct {
		at    time.Time
		typ   string
		phone string
	}
	var events []event
	for phone, zone := range buyers {
		for i := range 16 {
			events = append(events, event{day0.Add(time.Duration(i) * 90 * time.Minute), notifier.EventShipped, phone})
		}
		loc, _ := time.LoadLocation(zone)
		l := day0.In(loc)
		events = append(events, event{time.Date(l.Year(), l.Month(), l.Day(), 2, 0, 0, 0, loc).Add(24 * time.Hour), notifier.EventColdChainBreached, phone})
	}
	var block uint64
	record := func(now time.Time) {
		for i, e := range events {
			if e.at.After(now) || e.typ == "" {
				continue
			}
			block++
			tx := fmt.Sprintf("tx%04d", i)
			ev := notifier.Event{Type: shipment.EventType(e.typ), ShipmentID: "SHP-" + e.phone[1:], Exporter: "ExporterMSP", Time: e.at}
			buyer := notifier.Contact{Phone: e.phone, Name: "Ana", Language: "en", Consent: true}
			in := decide.Input{Chain: notifier.ChainEvent{Block: block, TxID: tx}, Event: ev, Rules: d.Relevant(ev), Buyer: &buyer, Now: now}
			if _, err := st.Record(t.Context(), notifier.Checkpoint{Block: block, TxID: tx}, func(v outbox.View) []notifier.Notification { return d.Plan(in, v) }); err != nil {
				t.Fatal(err)
			}
			events[i].typ = "" // recorded
		}
	}

	type send struct {
		at     time.Time
		urgent bool
	}
	sends := map[string][]send{} // phone → sends
	sentIDs := map[string]int{}  // notification ID → times sent
	deferredSeen := map[string]bool{}
	restarted := false
	for now := day0; now.Before(day0.Add(8 * 24 * time.Hour)); now = now.Add(time.Minute) {
		clock.Set(now)
		record(now)
		if !restarted && now.Sub(day0) >= 30*time.Hour {
			// A restart with deferred messages waiting: nothing may be lost or sent twice.
			st.Close()
			st = open()
			if _, err := st.Recover(time.Minute); err != nil {
				t.Fatal(err)
			}
			restarted = true
		}
		if now.Minute() == 0 {
			for phone := range buyers {
				ns, _ := st.ByShipment("SHP-" + phone[1:])
				for _, n := range ns {
					if v := viewAt(n, now); v.Status == StatusDeferred {
						if v.NotBefore.IsZero() || !v.NotBefore.After(now) {
							t.Fatalf("%s listed deferred with notBefore %v at %v", n.ID, v.NotBefore, now)
						}
						deferredSeen[n.ID] = true
					}
				}
			}
		}
		claimed, err := st.Claim(1000, nil)
		if err != nil {
			t.Fatal(err)
		}
		for _, n := range claimed {
			sentIDs[n.ID]++
			sends[n.Phone] = append(sends[n.Phone], send{now, n.Urgent})
			if _, err := st.Finish(outbox.Result{ID: n.ID, Status: notifier.StatusSent, WAMID: "wamid." + n.ID, At: now}); err != nil {
				t.Fatal(err)
			}
		}
	}

	for id, c := range sentIDs {
		if c != 1 {
			t.Errorf("%s sent %d times", id, c)
		}
	}
	if len(sentIDs) != len(events) {
		t.Errorf("%d messages sent, want %d (one per event: nothing dropped)", len(sentIDs), len(events))
	}
	if len(deferredSeen) == 0 {
		t.Error("no notification was ever listed as deferred")
	}
	for phone, zone := range buyers {
		loc, _ := time.LoadLocation(zone)
		perDay := map[string]int{}
		urgent := 0
		for _, s := range sends[phone] {
			l := s.at.In(loc)
			if s.urgent {
				urgent++
				if l.Hour() != 2 || l.Minute() != 0 {
					t.Errorf("%s: breach sent at %s local, want at once (02:00, in quiet hours)", zone, l.Format("15:04"))
				}
				continue
			}
			if l.Hour() >= 21 || l.Hour() < 8 {
				t.Errorf("%s: message sent at %s local, in quiet hours", zone, l.Format("2006-01-02 15:04"))
			}
			perDay[l.Format(policy.DayLayout)]++
		}
		for day, c := range perDay {
			if c > cap {
				t.Errorf("%s: %d messages on local day %s, cap %d", zone, c, day, cap)
			}
		}
		if urgent != 1 || len(sends[phone]) != 17 {
			t.Errorf("%s: %d sends (%d urgent), want 17 (1 urgent)", zone, len(sends[phone]), urgent)
		}
		t.Logf("%s: local days used %v", zone, perDay)
	}
}

const phoneRefKeyForTest = "policy-day-test-phone-reference-key"
