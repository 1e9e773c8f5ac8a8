package console

import (
	"bytes"
	"encoding/json"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/shiptrace/shiptrace/fabric"
	"github.com/shiptrace/shiptrace/shipment"
)

var rowID = regexp.MustCompile(`<td><a href="/console/shipments/([^"]+)">`)

// ids are the shipments a list page shows, in order.
func ids(body string) []string {
	var out []string
	for _, m := range rowID.FindAllStringSubmatch(body, -1) {
		out = append(out, m[1])
	}
	return out
}

func TestListFiltersAndSearch(t *testing.T) {
	h := newHarness(t, Options{})
	b := h.browser("10.0.0.1")
	b.signIn(carrierKey)
	tests := []struct {
		query string
		want  []string
	}{
		{"", []string{"SHP-C-001", "SHP-C-002", "SHP-C-003", "SHP-C-004"}},
		{"status=SHIPPED", []string{"SHP-C-003", "SHP-C-004"}},
		{"status=IN_TRANSIT", []string{"SHP-C-002"}},
		{"counterpart=Retailer2MSP", []string{"SHP-C-002", "SHP-C-004"}},
		{"breached=on", []string{"SHP-C-003"}},
		{"overdue=on", []string{"SHP-C-004"}},
		{"status=CREATED&breached=on", nil},
		{"q=SHP-C-002", []string{"SHP-C-002"}},
		{"q=po-7781", []string{"SHP-C-003"}},
		{"q=PO-77", []string{"SHP-C-001", "SHP-C-002", "SHP-C-003", "SHP-C-004"}},
		{"q=PO-77&counterpart=RetailerMSP", []string{"SHP-C-001", "SHP-C-003"}},
	}
	for _, tt := range tests {
		t.Run(tt.query, func(t *testing.T) {
			w := b.do(http.MethodGet, "/console/?"+tt.query, nil)
			if w.Code != http.StatusOK {
				t.Fatalf("%d %s", w.Code, w.Body)
			}
			if got := ids(w.Body.String()); !slices.Equal(got, tt.want) {
				t.Errorf("shows %v, want %v", got, tt.want)
			}
		})
	}
	// The list read the contract as the signed-in key's identity.
	for _, c := range h.ledger.Calls() {
		if c.Tx == "ListShipments" && c.Identity != "carrier" {
			t.Errorf("ListShipments as %q", c.Identity)
		}
	}
}

func TestListRefusesBadFiltersWithAClearError(t *testing.T) {
	h := newHarness(t, Options{})
	b := h.browser("10.0.0.1")
	b.signIn(carrierKey)
	for query, want := range map[string]string{
		"status=LOST":           `status: &#34;LOST&#34; is not a status`,
		"counterpart=%3Cscript": "counterpart",
	} {
		before := len(h.ledger.Calls())
		w := b.do(http.MethodGet, "/console/?"+query, nil)
		if w.Code != http.StatusBadRequest || !strings.Contains(w.Body.String(), want) {
			t.Errorf("%s: %d %s", query, w.Code, w.Body)
		}
		if strings.Contains(w.Body.String(), "<script") {
			t.Errorf("%s: input echoed unescaped", query)
		}
		if len(h.ledger.Calls()) != before {
			t.Errorf("%s: the ledger was read", query)
		}
	}
}

func TestListPagesThroughTheContract(t *testing.T) {
	h := newHarness(t, Options{})
	for i := range 120 {
		s := fixtures()[1]
		s.ID = "SHP-P-" + string(rune('A'+i/26)) + string(rune('a'+i%26))
		h.ledger.add(s)
	}
	b := h.browser("10.0.0.1")
	b.signIn(carrierKey)
	seen := map[string]bool{}
	next := "/console/?counterpart=Retailer2MSP"
	for pages := 0; next != ""; pages++ {
		if pages > 10 {
			t.Fatal("the pages never end")
		}
		w := b.do(http.MethodGet, next, nil)
		for _, id := range ids(w.Body.String()) {
			if seen[id] {
				t.Errorf("%s shown twice", id)
			}
			seen[id] = true
		}
		next = ""
		if _, rest, ok := strings.Cut(w.Body.String(), `<a href="/console/?`); ok {
			q, _, _ := strings.Cut(rest, `"`)
			next = "/console/?" + strings.ReplaceAll(q, "&amp;", "&")
		}
	}
	if len(seen) != 122 { // 120 + SHP-C-002 and SHP-C-004
		t.Errorf("%d shipments over all pages, want 122", len(seen))
	}
}

func TestHandOverGoesThroughTheAPIOnceAndShowsInTheTimeline(t *testing.T) {
	h := newHarness(t, Options{})
	b := h.browser("10.0.0.1")
	b.signIn(carrierKey)
	page := b.do(http.MethodGet, "/console/shipments/SHP-C-002", nil)
	csrf, idem := field(t, page, "csrf"), field(t, page, "idem")
	form := url.Values{"csrf": {csrf}, "idem": {idem}, "toMSP": {"Retailer2MSP"}}
	for range 2 { // a double click
		w := b.do(http.MethodPost, "/console/shipments/SHP-C-002/handover", form)
		if w.Code != http.StatusSeeOther || w.Header().Get("Location") != "/console/shipments/SHP-C-002?done=handover" {
			t.Fatalf("hand-over: %d %s", w.Code, w.Body)
		}
	}
	writes := h.ledger.writes()
	if len(writes) != 1 || writes[0].Tx != "HandOver" || writes[0].Identity != "carrier" ||
		!slices.Equal(writes[0].Args, []string{"SHP-C-002", "Retailer2MSP"}) {
		t.Fatalf("writes %+v: want one HandOver as the carrier's identity", writes)
	}
	after := b.do(http.MethodGet, "/console/shipments/SHP-C-002?done=handover", nil).Body.String()
	for _, want := range []string{"Done: Hand over.", "Retailer2MSP"} {
		if !strings.Contains(after, want) {
			t.Errorf("the page after the hand-over lacks %q", want)
		}
	}
	if spoofed := b.do(http.MethodGet, "/console/shipments/SHP-C-002?done=Your+account+is+locked", nil).Body.String(); strings.Contains(spoofed, "locked") {
		t.Error("?done= puts any text on the page")
	}
	if !strings.Contains(after, "Handed over</strong>: CarrierMSP → Retailer2MSP") {
		t.Error("no hand-over in the timeline")
	}
	if !strings.Contains(after, h.ledger.versions["SHP-C-002"][1].tx) {
		t.Error("the hand-over's transaction is not among the proofs")
	}
}

func TestContractRefusalShowsTheProblemOnThePage(t *testing.T) {
	h := newHarness(t, Options{})
	h.ledger.refuse = func(req fabric.Request) error {
		return shipment.Errorf(shipment.Conflict, "shipment SHP-C-001 is CREATED: ship it first")
	}
	b := h.browser("10.0.0.1")
	csrf := b.signIn(carrierKey)
	w := b.do(http.MethodPost, "/console/shipments/SHP-C-001/handover", url.Values{"csrf": {csrf}, "toMSP": {"RetailerMSP"}})
	body := w.Body.String()
	if w.Code != http.StatusConflict || !strings.Contains(body, "The shipment is not in a state that allows this") ||
		!strings.Contains(body, "ship it first") {
		t.Fatalf("%d %s", w.Code, body)
	}
	if s, _ := h.ledger.latest("SHP-C-001"); s.Custodian != "ExporterMSP" {
		t.Error("a refused hand-over changed the record")
	}
}

func TestBadFormInputIsRefusedBeforeTheLedger(t *testing.T) {
	h := newHarness(t, Options{})
	b := h.browser("10.0.0.1")
	csrf := b.signIn(carrierKey)
	for action, form := range map[string]url.Values{
		"handover":  {"toMSP": {"not an msp"}},
		"sensors":   {"sensors": {""}},
		"documents": {"type": {"invoice"}, "sha256": {"abc"}},
	} {
		form.Set("csrf", csrf)
		w := b.do(http.MethodPost, "/console/shipments/SHP-C-002/"+action, form)
		if w.Code < 400 || w.Code >= 500 || !strings.Contains(w.Body.String(), `class="problem"`) {
			t.Errorf("%s: %d", action, w.Code)
		}
		if action == "documents" && !strings.Contains(w.Body.String(), "<li>") {
			t.Errorf("documents: the problem's errors are not listed: %s", w.Body)
		}
	}
	if w := h.ledger.writes(); len(w) != 0 {
		t.Errorf("bad input reached the ledger: %+v", w)
	}
}

// upload posts a readings file as the browser's multipart form does.
func upload(t *testing.T, b *browser, csrf, name, content string, fields ...string) *httptest.ResponseRecorder {
	t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	_ = mw.WriteField("csrf", csrf)
	for i := 0; i+1 < len(fields); i += 2 {
		_ = mw.WriteField(fields[i], fields[i+1])
	}
	fw, _ := mw.CreateFormFile("file", name)
	_, _ = fw.Write([]byte(content))
	_ = mw.Close()
	r := httptest.NewRequest(http.MethodPost, "http://gw.example/console/shipments/SHP-C-002/readings", &buf)
	r.RemoteAddr = b.addr + ":40000"
	r.Header.Set("Content-Type", mw.FormDataContentType())
	r.Header.Set("Origin", "http://gw.example")
	r.AddCookie(b.cookie)
	w := httptest.NewRecorder()
	b.h.srv.Handler().ServeHTTP(w, r)
	return w
}

func TestReadingsFromCSVOrJSONFile(t *testing.T) {
	h := newHarness(t, Options{})
	b := h.browser("10.0.0.1")
	csrf := b.signIn(carrierKey)
	files := map[string]string{
		"r.csv":  "sensorId,time,celsius\nLOG-1,2026-12-03T10:00:00Z,4.5\nLOG-1,2026-12-03T10:05:00Z,9.25\n",
		"r.json": `[{"sensorId":"LOG-1","time":"2026-12-03T10:00:00Z","celsius":4.5},{"sensorId":"LOG-1","time":"2026-12-03T10:05:00Z","celsius":9.25}]`,
	}
	// A German logger's export: the sensor and the zone from the form.
	files["de.csv"] = "Gerät: T3\nDatum;Uhrzeit;Temperatur [°C]\n03.12.2026;11:00:00;4,5\n03.12.2026;11:05:00;9,25\n"
	for name, content := range files {
		h.ledger.calls = nil
		var fields []string
		if name == "de.csv" {
			fields = []string{"sensor", "LOG-1", "tz", "Europe/Berlin"}
		}
		if w := upload(t, b, csrf, name, content, fields...); w.Code != http.StatusSeeOther {
			t.Fatalf("%s: %d %s", name, w.Code, w.Body)
		}
		writes := h.ledger.writes()
		if len(writes) != 1 || writes[0].Tx != "RecordReadings" {
			t.Fatalf("%s: writes %+v", name, writes)
		}
		var rs []shipment.Reading
		if err := json.Unmarshal([]byte(writes[0].Args[1]), &rs); err != nil || len(rs) != 2 || rs[1].Celsius != 9.25 || rs[1].SensorID != "LOG-1" {
			t.Errorf("%s: readings %s", name, writes[0].Args[1])
		}
	}
	h.ledger.calls = nil
	for name, content := range map[string]string{
		"bad.json": `[{"sensorId":"LOG-1","celsius":"warm"}]`,
		"empty":    "",
	} {
		w := upload(t, b, csrf, name, content)
		if w.Code != http.StatusBadRequest || !strings.Contains(w.Body.String(), "file:") {
			t.Errorf("%s: %d %s", name, w.Code, w.Body)
		}
	}
	// A CSV file goes to the API as text/csv, which refuses it whole with
	// each problem's line (gateway/api, loggercsv); the page shows them.
	for name, want := range map[string][2]string{
		"bad.csv":  {"sensorId,time,celsius\nLOG-1,yesterday,4.5\n", "line 2: time &#34;yesterday&#34;: not a time"},
		"head.csv": {"sensor,when,temp\nLOG-1,2026-12-03T10:00:00Z,4.5\n", "line 1: no header row naming a time column"},
	} {
		w := upload(t, b, csrf, name, want[0])
		if w.Code != http.StatusUnprocessableEntity || !strings.Contains(w.Body.String(), want[1]) {
			t.Errorf("%s: %d, want 422 with %q", name, w.Code, want[1])
		}
	}
	if w := h.ledger.writes(); len(w) != 0 {
		t.Errorf("bad files reached the ledger: %+v", w)
	}
}

// TestActionsShownFollowTheKeysRoleAndPosition: the console offers what the
// contract would accept from this key on this record: its role, its
// organisation's position, and the shipment's status.
func TestActionsShownFollowTheKeysRoleAndPosition(t *testing.T) {
	h := newHarness(t, Options{})
	tests := []struct {
		key, id string
		want    []string
	}{
		{carrierKey, "SHP-C-002", []string{"handover", "readings", "sensors", "documents"}}, // the carrier holds it
		{carrierKey, "SHP-C-001", nil},                 // the exporter holds it
		{buyerKey, "SHP-C-001", []string{"documents"}}, // its buyer, but CREATED: nothing to deliver or reject yet
		{buyerKey, "SHP-C-002", nil},                   // another buyer's
	}
	for _, tt := range tests {
		b := h.browser("10.0.0.1")
		b.signIn(tt.key)
		body := b.do(http.MethodGet, "/console/shipments/"+tt.id, nil).Body.String()
		var got []string
		for _, m := range regexp.MustCompile(`data-action="([a-z]+)"`).FindAllStringSubmatch(body, -1) {
			got = append(got, m[1])
		}
		if !slices.Equal(got, tt.want) {
			t.Errorf("%s… on %s: actions %v, want %v", tt.key[:5], tt.id, got, tt.want)
		}
	}
}

func TestMemberViewNeverShowsTheBuyerContact(t *testing.T) {
	h := newHarness(t, Options{})
	b := h.browser("10.0.0.1")
	b.signIn(carrierKey)
	for _, path := range []string{"/console/", "/console/shipments/SHP-C-003", "/console/?q=PO-7781"} {
		body := b.do(http.MethodGet, path, nil).Body.String()
		if strings.Contains(body, buyerPhone) || strings.Contains(body, buyerName) || strings.Contains(body, "Erika") {
			t.Errorf("%s shows the buyer's contact", path)
		}
	}
	detail := b.do(http.MethodGet, "/console/shipments/SHP-C-003", nil).Body.String()
	for _, want := range []string{"PO-7781", "Mangoes", "SHP-C-003", h.ledger.versions["SHP-C-003"][0].tx} {
		if !strings.Contains(detail, want) {
			t.Errorf("the detail view lacks %q", want)
		}
	}
	for _, c := range h.ledger.Calls() {
		if c.Tx == "BuyerContact" {
			t.Error("the console read the buyer contact")
		}
	}
}

func field(t *testing.T, w *httptest.ResponseRecorder, name string) string {
	t.Helper()
	_, rest, ok := strings.Cut(w.Body.String(), `name="`+name+`" value="`)
	if !ok {
		t.Fatalf("no %s field: %d %s", name, w.Code, w.Body)
	}
	v, _, _ := strings.Cut(rest, `"`)
	return v
}

func TestLedgerFailureIsUnavailableWithoutItsCause(t *testing.T) {
	h := newHarness(t, Options{})
	b := h.browser("10.0.0.1")
	b.signIn(carrierKey)
	h.ledger.mu.Lock()
	h.ledger.blockStoreDown = true
	h.ledger.mu.Unlock()
	w := b.do(http.MethodGet, "/console/shipments/SHP-C-001", nil)
	if w.Code != http.StatusServiceUnavailable || w.Header().Get("Retry-After") == "" ||
		!strings.Contains(w.Body.String(), "The ledger could not be read") {
		t.Fatalf("%d %s", w.Code, w.Body)
	}
	if strings.Contains(w.Body.String(), "peer0") || strings.Contains(w.Body.String(), "qscc") {
		t.Error("the page shows the cause")
	}
}

func TestEachActionCallsItsTransactionWithTheFormsValues(t *testing.T) {
	digest := strings.Repeat("ab", 32)
	tests := []struct {
		action string
		form   url.Values
		tx     string
		args   []string
	}{
		{"ship", url.Values{}, "Ship", []string{"SHP-C-001"}},
		{"deliver", url.Values{}, "Deliver", []string{"SHP-C-001"}},
		{"reject", url.Values{"reason": {"crates crushed"}}, "Reject", []string{"SHP-C-001", "crates crushed"}},
		{"cancel", url.Values{"reason": {"order withdrawn"}}, "Cancel", []string{"SHP-C-001", "order withdrawn"}},
		{"sensors", url.Values{"sensors": {"LOG-1, LOG-2\nLOG-3"}}, "RegisterSensors", []string{"SHP-C-001", `["LOG-1","LOG-2","LOG-3"]`}},
		{"documents", url.Values{"type": {"commercial_invoice"}, "sha256": {strings.ToUpper(digest)}}, "AttachDocument",
			[]string{"SHP-C-001", `{"type":"commercial_invoice","sha256":"` + digest + `"}`}},
	}
	for _, tt := range tests {
		t.Run(tt.action, func(t *testing.T) {
			h := newHarness(t, Options{})
			b := h.browser("10.0.0.1")
			tt.form.Set("csrf", b.signIn(carrierKey))
			if w := b.do(http.MethodPost, "/console/shipments/SHP-C-001/"+tt.action, tt.form); w.Code != http.StatusSeeOther {
				t.Fatalf("%d %s", w.Code, w.Body)
			}
			w := h.ledger.writes()
			if len(w) != 1 || w[0].Tx != tt.tx || !slices.Equal(w[0].Args, tt.args) {
				t.Errorf("writes %+v, want %s%q", w, tt.tx, tt.args)
			}
		})
	}
}

// TestShipmentPageListsTheBuyersClaims: a shipment's claims (digests
// only) are on its page for any member; a shipment without claims has no
// claims section.
func TestShipmentPageListsTheBuyersClaims(t *testing.T) {
	h := newHarness(t, Options{})
	h.ledger.mu.Lock()
	h.ledger.claims = map[string][]shipment.Claim{"SHP-C-003": {{ID: "CLM-7K2Q9ZP4", ShipmentID: "SHP-C-003", Category: shipment.ClaimDamaged,
		WordsSHA256: strings.Repeat("ab", 32), PhotoSHA256s: []string{strings.Repeat("cd", 32)}, OpenedAt: time.Date(2026, 12, 3, 10, 0, 0, 0, time.UTC),
		OpenedBy: "ExporterMSP", TxID: "tx-claim-1"}}}
	h.ledger.mu.Unlock()
	b := h.browser("10.0.0.1")
	b.signIn(carrierKey)
	page := b.do(http.MethodGet, "/console/shipments/SHP-C-003", nil).Body.String()
	for _, want := range []string{"Buyer's claims", "CLM-7K2Q9ZP4", "damaged", strings.Repeat("ab", 32), "tx-claim-1"} {
		if !strings.Contains(page, want) {
			t.Errorf("the shipment page lacks %q", want)
		}
	}
	if other := b.do(http.MethodGet, "/console/shipments/SHP-C-002", nil).Body.String(); strings.Contains(other, "Buyer's claims") {
		t.Error("a shipment without claims shows a claims section")
	}
}
