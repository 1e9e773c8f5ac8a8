package contract

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/shiptrace/shiptrace/shipment"
)

// withVersions creates a shipment held by the carrier and changes it until
// it has n versions (3 <= n <= 100): documents (at most 45), then readings
// batches each from a new sensor (a batch is a version when it registers a
// sensor).
func (w *world) withVersions(id string, n int) {
	w.t.Helper()
	w.inTransit(id)
	for i := 3; i < n; i++ {
		if i < 48 {
			w.ok(carrierMSP, "AttachDocument", id, docJSON(i))
			continue
		}
		// Dated after the hand-over: readings must fall inside custody.
		r := shipment.Reading{SensorID: "S" + strconv.Itoa(i), Time: w.now.Add(30 * time.Second), Celsius: 5}
		w.ok(carrierMSP, "RecordReadings", id, readingsJSON(w.t, []shipment.Reading{r}))
	}
}

// docJSON is a distinct document for each i.
func docJSON(i int) string {
	sum := sha256.Sum256([]byte(strconv.Itoa(i)))
	return `{"type":"packing_list","sha256":"` + hex.EncodeToString(sum[:]) + `"}`
}

// historyPage reads one page and returns it with the history entries the
// transaction read.
func (w *world) historyPage(id string, size int, bookmark string) (HistoryPage, int) {
	w.t.Helper()
	res := w.invoke(call{msp: buyerMSP, fn: "ShipmentHistory", args: []string{id, strconv.Itoa(size), bookmark}})
	if res.Response.GetStatus() != 200 {
		w.t.Fatalf("ShipmentHistory %d %q: %s", size, bookmark, res.Response.GetMessage())
	}
	var p HistoryPage
	if err := json.Unmarshal(res.Response.GetPayload(), &p); err != nil {
		w.t.Fatal(err)
	}
	if len(p.Items) > size {
		w.t.Fatalf("page of %d entries for size %d", len(p.Items), size)
	}
	return p, res.Stub.HistoryReads
}

func versionsOf(items []HistoryEntry) []int64 {
	var out []int64
	for _, e := range items {
		out = append(out, e.Shipment.Version)
	}
	return out
}

// descending returns from, from-1, ..., to.
func descending(from, to int64) []int64 {
	var out []int64
	for v := from; v >= to; v-- {
		out = append(out, v)
	}
	return out
}

func TestHistoryPagesNewestFirstWithoutGapsOrRepeats(t *testing.T) {
	w := newWorld(t)
	id := "SHP-HIST-1"
	const versions = 60
	w.withVersions(id, versions)
	if v := w.read(id).Version; v != versions {
		t.Fatalf("the record is at version %d, want %d", v, versions)
	}

	for _, size := range []int{1, 7, 59, 60, 100} {
		t.Run(fmt.Sprintf("pages of %d", size), func(t *testing.T) {
			var got []HistoryEntry
			bookmark, pages := "", 0
			for {
				p, _ := w.historyPage(id, size, bookmark)
				got = append(got, p.Items...)
				pages++
				if bookmark = p.Bookmark; bookmark == "" {
					break
				}
				if len(p.Items) != size {
					t.Fatalf("page %d: %d entries and a bookmark; a page is short only at the end", pages, len(p.Items))
				}
				if pages > versions {
					t.Fatal("pagination does not end")
				}
			}
			if v := versionsOf(got); !slices.Equal(v, descending(versions, 1)) {
				t.Fatalf("versions %v, want %d down to 1", v, versions)
			}
			if want := (versions + size - 1) / size; pages != want {
				t.Fatalf("%d pages, want %d (the last full page says there is no more)", pages, want)
			}
			seen := map[string]bool{}
			for i, e := range got {
				if seen[e.TxID] || e.TxID != e.Shipment.UpdatedTx || e.MSPID != e.Shipment.UpdatedBy {
					t.Fatalf("entry %d: tx %s (seen before: %v), record's tx %s", i, e.TxID, seen[e.TxID], e.Shipment.UpdatedTx)
				}
				seen[e.TxID] = true
				if i > 0 && e.Time.After(got[i-1].Time) {
					t.Fatalf("entry %d at %s is newer than entry %d", i, e.Time, i-1)
				}
			}
		})
	}

	t.Run("a write between pages", func(t *testing.T) {
		first, _ := w.historyPage(id, 7, "")
		w.ok(carrierMSP, "AttachDocument", id, docJSON(-1))
		got := slices.Clone(first.Items)
		for bookmark := first.Bookmark; bookmark != ""; {
			p, _ := w.historyPage(id, 7, bookmark)
			got, bookmark = append(got, p.Items...), p.Bookmark
		}
		if v := versionsOf(got); !slices.Equal(v, descending(versions, 1)) {
			t.Fatalf("versions %v: the new version must not shift the pages already begun", v)
		}
		if p, _ := w.historyPage(id, 1, ""); p.Items[0].Shipment.Version != versions+1 {
			t.Fatalf("a fresh read starts at version %d, want %d", p.Items[0].Shipment.Version, versions+1)
		}
	})
}

// TestHistoryPageCostGrowsWithDepthNotWithTotal: Fabric's history iterator
// cannot seek, so a page reads the entries above it, and nothing below it
// (whether more follow, HasNext tells without reading one).
func TestHistoryPageCostGrowsWithDepthNotWithTotal(t *testing.T) {
	w := newWorld(t)
	small, large := "SHP-HIST-S", "SHP-HIST-L"
	w.withVersions(small, 12)
	w.withVersions(large, 80)
	for _, id := range []string{small, large} {
		if _, reads := w.historyPage(id, 5, ""); reads != 5 {
			t.Fatalf("%s: the first page of 5 read %d entries, want 5", id, reads)
		}
	}
	bookmark, depth := "", 0
	for depth < 50 {
		p, _ := w.historyPage(large, 10, bookmark)
		bookmark, depth = p.Bookmark, depth+10
	}
	p, reads := w.historyPage(large, 10, bookmark)
	if want := depth + 10; reads != want {
		t.Fatalf("the page at depth %d read %d entries, want %d", depth, reads, want)
	}
	if v := versionsOf(p.Items); !slices.Equal(v, descending(80-50, 80-59)) {
		t.Fatalf("page at depth 50: versions %v", v)
	}
}

func TestHistoryRefusesBadPageSizesAndBookmarks(t *testing.T) {
	w := newWorld(t)
	id, other := "SHP-HIST-BAD", "SHP-HIST-OTHER"
	w.withVersions(id, 5)
	w.withVersions(other, 5)
	page, _ := w.historyPage(id, 2, "")
	otherPage, _ := w.historyPage(other, 2, "")
	second := page.Items[1].TxID // the second newest of id
	tests := []struct{ name, size, bookmark string }{
		{"page size 0", "0", ""},
		{"negative page size", "-1", ""},
		{"page size over the maximum", strconv.Itoa(MaxHistoryPage + 1), ""},
		{"not a bookmark", "2", "garbage"},
		{"another format", "2", "r1.2." + second},
		{"position 0", "2", "h1.0." + second},
		{"position with a leading zero", "2", "h1.02." + second},
		{"no transaction", "2", "h1.2."},
		{"a transaction with a space", "2", "h1.2.tx 1"},
		{"extra part", "2", page.Bookmark + ".1"},
		{"another shipment's bookmark", "2", otherPage.Bookmark},
		{"a position above the transaction's", "2", "h1.4." + second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := w.invoke(call{msp: buyerMSP, fn: "ShipmentHistory", args: []string{id, tt.size, tt.bookmark}})
			e, ok := shipment.ParseError(res.Response.GetMessage())
			if res.Response.GetStatus() == 200 || !ok || e.Code != shipment.Invalid || len(res.Writes) != 0 || res.Event != nil {
				t.Fatalf("size %s, bookmark %q: status %d %q, writes %v; want INVALID and nothing written",
					tt.size, tt.bookmark, res.Response.GetStatus(), res.Response.GetMessage(), res.Writes)
			}
		})
	}
	if p, _ := w.historyPage(id, 2, page.Bookmark); !slices.Equal(versionsOf(p.Items), []int64{3, 2}) {
		t.Fatalf("the good bookmark after the bad ones: versions %v", versionsOf(p.Items))
	}
}
