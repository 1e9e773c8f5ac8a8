package service_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/shiptrace/shiptrace/notifier"
	"github.com/shiptrace/shiptrace/notifier/anchor/anchortest"
	"github.com/shiptrace/shiptrace/notifier/proof"
	"github.com/shiptrace/shiptrace/notifier/service"
	"github.com/shiptrace/shiptrace/shipment"
)

// TestProofOfNotificationOverTheAdminAPI: a breach message goes to the
// stand-in, which reports it delivered and read by signed webhooks; the
// notifier anchors the status records, and the proof the admin API serves
// verifies against the ledger with the read time WhatsApp reported. A
// changed read time fails. Unknown notifications are 404, the route needs
// the token, and the proof holds neither the number, the name nor the wamid.
func TestProofOfNotificationOverTheAdminAPI(t *testing.T) {
	l := anchortest.New()
	h := start(t, option{
		contacts: map[string]notifier.Contact{"SHP-PROOF": {Phone: "+34611223344", Name: "Zoraida Quintero", Language: "en", Consent: true}},
		args:     []string{"--anchor.interval=100ms"},
		opts:     []service.Option{service.WithAnchorLedger(l)},
	})
	tx := h.emit(t, event(shipment.EventColdChainBreached, "SHP-PROOF"))
	id := notifier.NotificationID(tx, string(shipment.EventColdChainBreached), notifier.RoleBuyer)
	var wamid string
	eventually(t, 10*time.Second, "the breach message at the stand-in", func() bool {
		for _, r := range h.standin.Accepted() {
			if r.CallbackData == id {
				wamid = r.WAMID
			}
		}
		return wamid != ""
	})
	path := "/v1/notifications/" + id + "/proof"
	if code, _ := get(t, "http://"+h.svc.AdminAddr()+path, ""); code != http.StatusUnauthorized {
		t.Fatalf("proof without the token: %d", code)
	}
	// Accepted only: anchored soon, then delivered and read follow.
	eventually(t, 10*time.Second, "the accepted record anchored", func() bool {
		_, b := h.admin(t, path)
		return strings.Contains(b, `"state": "anchored"`)
	})
	for _, st := range []string{"delivered", "read"} {
		if err := h.standin.PostStatus(t.Context(), wamid, st, 0); err != nil {
			t.Fatal(err)
		}
	}
	var p proof.Proof
	eventually(t, 10*time.Second, "delivered and read anchored", func() bool {
		code, b := h.admin(t, path)
		if code != http.StatusOK {
			t.Fatalf("proof: %d %s", code, b)
		}
		p = proof.Proof{}
		_ = json.Unmarshal([]byte(b), &p)
		return p.State == proof.StateAnchored && len(p.Records) == 3
	})
	v, err := proof.Verify(t.Context(), p, l)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range v {
		got = append(got, r.Record.Status)
		if r.Record.ShipmentID != "SHP-PROOF" || r.Record.Event != string(shipment.EventColdChainBreached) || r.Record.Recipient != "buyer" {
			t.Fatalf("record %+v", r.Record)
		}
	}
	if strings.Join(got, ",") != "accepted,delivered,read" {
		t.Fatalf("verified statuses %v", got)
	}
	raw, _ := json.Marshal(p)
	for _, personal := range []string{"34611223344", "Zoraida", wamid} {
		if strings.Contains(string(raw), personal) {
			t.Fatalf("the proof holds %q", personal)
		}
	}
	read := p.Records[2]
	rec, _ := proof.ParseRecord([]byte(read.Record))
	earlier := rec.At.Add(-time.Minute).UTC().Format(time.RFC3339Nano)
	p.Records[2].Record = strings.Replace(read.Record, rec.At.UTC().Format(time.RFC3339Nano), earlier, 1)
	if p.Records[2].Record == read.Record {
		t.Fatal("tampering changed nothing")
	}
	if _, err := proof.Verify(t.Context(), p, l); err == nil {
		t.Fatal("a proof with the read time changed verifies")
	}
	if code, _ := h.admin(t, "/v1/notifications/tx-unknown/coldchain.breached/buyer/proof"); code != http.StatusNotFound {
		t.Fatalf("proof of an unknown notification: %d", code)
	}
}
