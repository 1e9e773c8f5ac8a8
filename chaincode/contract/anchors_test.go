package contract

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/shiptrace/shiptrace/shipment"
)

// anchorJSON is an anchor request for batch with n leaves; the root is a
// made-up hash (the contract checks its form, not its meaning).
func anchorJSON(batch string, n int) string {
	return fmt.Sprintf(`{"batchId":%q,"root":"%s","leafCount":%d,"firstAt":"2026-11-20T10:42:00Z","lastAt":"2026-11-20T10:47:00Z"}`,
		batch, strings.Repeat("ab", 32), n)
}

func decodeAnchor(t *testing.T, payload string) shipment.NotificationAnchor {
	t.Helper()
	var a shipment.NotificationAnchor
	dec := json.NewDecoder(strings.NewReader(payload))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&a); err != nil {
		t.Fatalf("decode anchor %q: %v", payload, err)
	}
	return a
}

// TestAnchorNotificationsRecordsTheCallersRoot: the anchor holds what was
// sent, the caller's MSP (not an argument) and the transaction's time and
// ID, emits notifications.anchored with the same record, and reads back.
func TestAnchorNotificationsRecordsTheCallersRoot(t *testing.T) {
	w := newWorld(t)
	res := w.invoke(call{msp: carrierMSP, role: shipment.RoleNotifier, fn: "AnchorNotifications", args: []string{anchorJSON("nb-0011223344556677-000001", 5)}})
	if res.Response.GetStatus() != 200 {
		t.Fatalf("AnchorNotifications: %s", res.Response.GetMessage())
	}
	a := decodeAnchor(t, string(res.Response.GetPayload()))
	want := shipment.NotificationAnchor{BatchID: "nb-0011223344556677-000001", MSPID: carrierMSP, Root: strings.Repeat("ab", 32), LeafCount: 5,
		FirstAt: time.Date(2026, 11, 20, 10, 42, 0, 0, time.UTC), LastAt: time.Date(2026, 11, 20, 10, 47, 0, 0, time.UTC),
		AnchoredAt: w.now, TxID: a.TxID}
	if a != want || a.TxID == "" {
		t.Fatalf("anchor = %+v\nwant %+v", a, want)
	}
	if res.Event == nil || res.Event.Name != string(shipment.EventNotificationsAnchored) {
		t.Fatalf("event = %v, want %s", res.Event, shipment.EventNotificationsAnchored)
	}
	if ev := decodeAnchor(t, string(res.Event.Payload)); ev != want {
		t.Fatalf("event payload = %+v, want %+v", ev, want)
	}
	// Any member reads it, an auditor included.
	got := w.invoke(call{msp: buyerMSP, role: shipment.RoleAuditor, fn: "NotificationAnchor", args: []string{want.BatchID}})
	if got.Response.GetStatus() != 200 {
		t.Fatalf("NotificationAnchor: %s", got.Response.GetMessage())
	}
	if r := decodeAnchor(t, string(got.Response.GetPayload())); r != want {
		t.Fatalf("read = %+v, want %+v", r, want)
	}
	w.refusedCall(shipment.NotFound, call{msp: buyerMSP, role: shipment.RoleAuditor, fn: "NotificationAnchor", args: []string{"nb-unknown-batch"}})
	w.refusedCall(shipment.Invalid, call{msp: buyerMSP, role: shipment.RoleAuditor, fn: "NotificationAnchor", args: []string{"../x"}})
}

// TestAnchorNotificationsIsIdempotent: a notifier that crashed after the
// commit and before it marked the batch submits it again with the same ID
// and root; that retry writes nothing, emits nothing and returns the first
// record (its transaction ID), so the notifier can mark the batch. The same
// ID with another root, count or times, or from another organisation, is a
// conflict that writes nothing.
func TestAnchorNotificationsIsIdempotent(t *testing.T) {
	w := newWorld(t)
	req := anchorJSON("nb-idem-000001", 4)
	first := decodeAnchor(t, w.ok(exporterMSP, "AnchorNotifications", req))
	before := w.snapshot()
	res := w.invoke(call{msp: exporterMSP, role: shipment.RoleNotifier, fn: "AnchorNotifications", args: []string{req}})
	if res.Response.GetStatus() != 200 {
		t.Fatalf("retry: %s", res.Response.GetMessage())
	}
	if again := decodeAnchor(t, string(res.Response.GetPayload())); again != first {
		t.Fatalf("retry returned %+v, want the first record %+v", again, first)
	}
	if res.Event != nil || w.snapshot() != before {
		t.Fatalf("retry wrote or emitted something")
	}
	for name, c := range map[string]call{
		"other root":  {msp: exporterMSP, role: shipment.RoleNotifier, fn: "AnchorNotifications", args: []string{strings.Replace(req, "abab", "cdab", 1)}},
		"other count": {msp: exporterMSP, role: shipment.RoleNotifier, fn: "AnchorNotifications", args: []string{anchorJSON("nb-idem-000001", 5)}},
		"other times": {msp: exporterMSP, role: shipment.RoleNotifier, fn: "AnchorNotifications", args: []string{strings.Replace(req, "10:47", "10:48", 1)}},
		"other org":   {msp: carrierMSP, role: shipment.RoleNotifier, fn: "AnchorNotifications", args: []string{req}},
	} {
		t.Run(name, func(t *testing.T) { w.refusedCall(shipment.Conflict, c) })
	}
}

// TestAnchorNotificationsRefusesBadInput: every malformed request is
// INVALID and writes nothing; a role that may not anchor, or an
// organisation outside the consortium, is FORBIDDEN.
func TestAnchorNotificationsRefusesBadInput(t *testing.T) {
	root := strings.Repeat("ab", 32)
	bad := map[string]string{
		"not json":       `{`,
		"unknown field":  `{"batchId":"nb-bad-000001","root":"` + root + `","leafCount":1,"firstAt":"2026-11-20T10:42:00Z","lastAt":"2026-11-20T10:47:00Z","phone":"+4915123456789"}`,
		"short batch id": `{"batchId":"nb","root":"` + root + `","leafCount":1,"firstAt":"2026-11-20T10:42:00Z","lastAt":"2026-11-20T10:47:00Z"}`,
		"bad batch id":   `{"batchId":"nb/../../x1","root":"` + root + `","leafCount":1,"firstAt":"2026-11-20T10:42:00Z","lastAt":"2026-11-20T10:47:00Z"}`,
		"upper hex root": `{"batchId":"nb-bad-000001","root":"` + strings.ToUpper(root) + `","leafCount":1,"firstAt":"2026-11-20T10:42:00Z","lastAt":"2026-11-20T10:47:00Z"}`,
		"short root":     `{"batchId":"nb-bad-000001","root":"abab","leafCount":1,"firstAt":"2026-11-20T10:42:00Z","lastAt":"2026-11-20T10:47:00Z"}`,
		"no leaves":      `{"batchId":"nb-bad-000001","root":"` + root + `","leafCount":0,"firstAt":"2026-11-20T10:42:00Z","lastAt":"2026-11-20T10:47:00Z"}`,
		"too many":       `{"batchId":"nb-bad-000001","root":"` + root + `","leafCount":1048577,"firstAt":"2026-11-20T10:42:00Z","lastAt":"2026-11-20T10:47:00Z"}`,
		"no first":       `{"batchId":"nb-bad-000001","root":"` + root + `","leafCount":1,"lastAt":"2026-11-20T10:47:00Z"}`,
		"last < first":   `{"batchId":"nb-bad-000001","root":"` + root + `","leafCount":1,"firstAt":"2026-11-20T10:48:00Z","lastAt":"2026-11-20T10:47:00Z"}`,
		"trailing":       anchorJSON("nb-bad-000001", 1) + `{}`,
		"future":         `{"batchId":"nb-bad-000001","root":"` + root + `","leafCount":1,"firstAt":"2026-11-20T10:42:00Z","lastAt":"2027-11-23T10:47:00Z"}`,
	}
	for name, arg := range bad {
		t.Run(name, func(t *testing.T) {
			w := newWorld(t)
			w.refusedCall(shipment.Invalid, call{msp: exporterMSP, role: shipment.RoleNotifier, fn: "AnchorNotifications", args: []string{arg}})
		})
	}
	t.Run("roles", func(t *testing.T) {
		w := newWorld(t)
		for _, role := range []string{shipment.RoleExporterOperator, shipment.RoleAuditor, shipment.RoleSensor, shipment.RoleBuyerReceiver, noAttribute} {
			w.refusedCall(shipment.Forbidden, call{msp: exporterMSP, role: role, fn: "AnchorNotifications", args: []string{anchorJSON("nb-role-000001", 1)}})
		}
	})
	t.Run("outsider", func(t *testing.T) {
		w := newWorld(t)
		w.refusedCall(shipment.Forbidden, call{msp: "OutsiderMSP", role: shipment.RoleNotifier, fn: "AnchorNotifications", args: []string{anchorJSON("nb-out-000001", 1)}})
	})
	t.Run("clock", func(t *testing.T) {
		w := newWorld(t)
		w.refusedCall(shipment.Invalid, call{msp: exporterMSP, role: shipment.RoleNotifier, fn: "AnchorNotifications", args: []string{anchorJSON("nb-skew-000001", 1)}, skew: time.Hour})
	})
}
