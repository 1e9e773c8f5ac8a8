package shipment

import (
	"testing"
	"time"
)

func TestDaysLateCountsStartedDays(t *testing.T) {
	exp := t0
	tests := []struct {
		after time.Duration
		want  int64
	}{
		{-time.Hour, 0}, {0, 0}, {time.Second, 1}, {24 * time.Hour, 1}, {24*time.Hour + time.Nanosecond, 2}, {72 * time.Hour, 3},
	}
	for _, tt := range tests {
		if got := DaysLate(exp, exp.Add(tt.after)); got != tt.want {
			t.Errorf("DaysLate(+%s) = %d, want %d", tt.after, got, tt.want)
		}
	}
}

func TestSettle(t *testing.T) {
	terms := &Terms{Currency: "EUR", InvoiceAmountMinor: 1_234_567, LatePenaltyBpsPerDay: 150, LatePenaltyCapBps: 1_000, BreachRefundBps: 2_500}
	exp := t0
	tests := []struct {
		name     string
		kind     SettleKind
		late     time.Duration
		breached bool
		outcome  Outcome
		release  int64
		refund   int64
		held     int64
		days     int64
	}{
		{"on time", SettleDelivered, -time.Hour, false, OutcomeRelease, 1_234_567, 0, 0, 0},
		// 2 started days x 150 bps = 300 bps; floor(1,234,567 x 300 / 10,000) = 37,037
		{"a day and a bit late", SettleDelivered, 25 * time.Hour, false, OutcomeReleaseLessRefund, 1_197_530, 37_037, 0, 2},
		// 10 days x 150 = 1,500 bps, capped at 1,000 bps: 123,456
		{"penalty capped", SettleDelivered, 10 * 24 * time.Hour, false, OutcomeReleaseLessRefund, 1_111_111, 123_456, 0, 10},
		// 2,500 bps breach refund: floor(308,641.75) = 308,641
		{"breached on time", SettleDelivered, 0, true, OutcomeReleaseLessRefund, 925_926, 308_641, 0, 0},
		// 1,000 capped penalty + 2,500 breach = 3,500 bps: floor(432,098.45) = 432,098
		{"breached and late", SettleDelivered, 30 * 24 * time.Hour, true, OutcomeReleaseLessRefund, 802_469, 432_098, 0, 30},
		{"rejected after breach", SettleRejected, 0, true, OutcomeFullRefund, 0, 1_234_567, 0, 0},
		{"rejected without breach", SettleRejected, time.Hour, false, OutcomeHeld, 0, 0, 1_234_567, 1},
		{"overdue is provisional", SettleOverdue, 49 * time.Hour, false, OutcomeProvisional, 0, 0, 1_234_567, 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st := Settle(terms, tt.kind, exp, exp.Add(tt.late), tt.breached)
			if st.Outcome != tt.outcome || st.ReleaseMinor != tt.release || st.RefundMinor != tt.refund || st.HeldMinor != tt.held || st.DaysLate != tt.days {
				t.Fatalf("settlement = %+v", st)
			}
			if st.ReleaseMinor+st.RefundMinor+st.HeldMinor != terms.InvoiceAmountMinor {
				t.Fatal("release + refund + held != invoice amount")
			}
			if st.Final == (tt.kind == SettleOverdue) {
				t.Fatalf("final = %v for %s", st.Final, tt.kind)
			}
		})
	}
}

func TestSettleCapsTheRefundAtTheInvoice(t *testing.T) {
	terms := &Terms{Currency: "USD", InvoiceAmountMinor: MaxAmountMinor, LatePenaltyBpsPerDay: 10_000, LatePenaltyCapBps: 10_000, BreachRefundBps: 10_000}
	st := Settle(terms, SettleDelivered, t0, t0.Add(100*24*time.Hour), true)
	if st.Outcome != OutcomeFullRefund || st.RefundMinor != MaxAmountMinor || st.ReleaseMinor != 0 {
		t.Fatalf("settlement = %+v", st)
	}
}

func TestSettleWithoutTermsIsNil(t *testing.T) {
	if st := Settle(nil, SettleDelivered, t0, t0, false); st != nil {
		t.Fatalf("settlement without terms = %+v", st)
	}
}

func TestDeliverRecordsSettlement(t *testing.T) {
	s := inStatus(t, StatusInTransit)
	record(t, s, &memStore{}, []Reading{rd("S1", 0, 9), rd("S1", 45, 9)})
	if err := s.Deliver(buyer, s.ExpectedDeliveryAt.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	// 1 day x 100 bps + 2,500 bps breach = 2,600 bps of 1,000,000
	if st := s.Settlement; st.RefundMinor != 260_000 || st.ReleaseMinor != 740_000 {
		t.Fatalf("settlement = %+v", st)
	}
}
