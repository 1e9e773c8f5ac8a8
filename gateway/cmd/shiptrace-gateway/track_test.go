package main

import (
	"slices"
	"testing"

	"github.com/shiptrace/shiptrace/fabric"
)

// TestOwnWritesReachTheTrackingPage: every committed write but a create
// names its shipment to the page; before the page exists nothing happens.
func TestOwnWritesReachTheTrackingPage(t *testing.T) {
	var c shipmentChanges
	c.committed(fabric.Request{Tx: "HandOver", Args: []string{"SHP-1", "CarrierMSP"}}, fabric.Committed{}) // no page yet: no panic
	var got []string
	c.set(func(id string) { got = append(got, id) })
	c.committed(fabric.Request{Tx: "CreateShipment", Args: []string{`{"id":"SHP-2"}`}}, fabric.Committed{})
	c.committed(fabric.Request{Tx: "DeleteBuyerContact", Args: []string{"SHP-1"}}, fabric.Committed{})
	c.committed(fabric.Request{Tx: "RecordReadings", Args: []string{"SHP-3", "[]"}}, fabric.Committed{})
	if !slices.Equal(got, []string{"SHP-1", "SHP-3"}) {
		t.Fatalf("page told of %v, want SHP-1 and SHP-3", got)
	}
}
