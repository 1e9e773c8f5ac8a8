// Command demo runs the README walk-through against the running local
// system: it creates a shipment with a buyer contact, attaches a certificate
// of origin, ships it, hands it to the carrier, uploads readings, hands it
// to the retailer, who confirms delivery; a second shipment gets a reading
// batch that breaches its cold chain and is rejected. Then it prints both
// histories and the WhatsApp messages the stand-in received.
//
// It reads the gateway URL and the API keys from the data directory
// (--home, SHIPTRACE_HOME, default <repo>/.shiptrace). scripts/demo runs it.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/shiptrace/shiptrace/local/walk"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "demo:", err)
		os.Exit(1)
	}
}

func defaultHome() string {
	if h := os.Getenv("SHIPTRACE_HOME"); h != "" {
		return h
	}
	dir, _ := os.Getwd()
	for d := dir; ; d = filepath.Dir(d) {
		if _, err := os.Stat(filepath.Join(d, "network", "config", "core.yaml")); err == nil {
			return filepath.Join(d, ".shiptrace")
		}
		if filepath.Dir(d) == d {
			return ".shiptrace"
		}
	}
}

func run() error {
	home := flag.String("home", defaultHome(), "data directory of the running system (SHIPTRACE_HOME)")
	prefix := flag.String("prefix", "DEMO", "prefix of the shipment IDs")
	wait := flag.Duration("wait", 90*time.Second, "how long to wait for the WhatsApp messages")
	flag.Parse()

	sys, err := walk.Open(*home)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	c := sys.Client()
	if err := walk.Eventually(ctx, 30*time.Second, 250*time.Millisecond, func() error {
		if !c.Ready(ctx) {
			return fmt.Errorf("gateway %s/readyz is not 200 (is the system up? scripts/up)", sys.GatewayURL)
		}
		return nil
	}); err != nil {
		return err
	}
	logf := func(format string, args ...any) { fmt.Printf(format+"\n", args...) }
	fmt.Printf("gateway %s, notifier %s, WhatsApp stand-in %s\n\n", sys.GatewayURL, sys.NotifierURL, sys.StandinURL)
	res, err := walk.Run(ctx, c, *prefix, logf)
	if err != nil {
		return err
	}

	for _, s := range []*walk.Story{res.Delivered, res.Breached} {
		h, err := c.History(ctx, "retailer", s.ID)
		if err != nil {
			return err
		}
		fmt.Printf("\nhistory of %s (GET /v1/shipments/%s/history)\n", s.ID, s.ID)
		for _, e := range h {
			sh := e.Shipment
			extra := ""
			if sh.ColdChain.Count > 0 {
				extra = fmt.Sprintf("  cold chain %s (%d readings)", sh.ColdChain.State, sh.ColdChain.Count)
			}
			if sh.Settlement != nil {
				extra += fmt.Sprintf("  settlement %s: release %d, refund %d %s", sh.Settlement.Outcome,
					sh.Settlement.ReleaseMinor, sh.Settlement.RefundMinor, sh.Settlement.Currency)
			}
			fmt.Printf("  %s  %-12s %-10s custodian %-12s tx %s…%s\n", e.Time.Format("15:04:05.000"), e.MSPID,
				sh.Status, sh.Custodian, e.TxID[:12], extra)
		}
	}

	want := res.Expected()
	fmt.Printf("\nwaiting for the %d WhatsApp messages (shipped, delivered, breach to buyer and operations)...\n", len(want))
	var msgs []walk.Message
	err = walk.Eventually(ctx, *wait, 250*time.Millisecond, func() error {
		var err error
		if msgs, err = walk.Messages(ctx, sys.StandinURL); err != nil {
			return err
		}
		if t := walk.Check(msgs, want); len(t.Missing) > 0 {
			return fmt.Errorf("%s", t)
		}
		return nil
	})
	mine := append(walk.About(msgs, res.Delivered.ID), walk.About(msgs, res.Breached.ID)...)
	fmt.Printf("\nmessages the WhatsApp stand-in received (GET %s/_standin/messages):\n%s", sys.StandinURL, walk.Format(mine))
	if err != nil {
		return fmt.Errorf("not every message arrived: %w", err)
	}
	fmt.Println("\nnotification status (notifier admin listing):")
	for _, s := range []*walk.Story{res.Delivered, res.Breached} {
		ns, err := sys.Notifications(ctx, s.ID)
		if err != nil {
			return err
		}
		for _, n := range ns {
			fmt.Printf("  %s  %-20s to %-6s %-22s %s\n", s.ID, n.EventType, n.Recipient, n.Message.Template+"/"+n.Message.Language, n.Status)
		}
	}
	fmt.Printf("\ntry: curl -s -H \"X-API-Key: $SHIPTRACE_API_KEY_RETAILER\" %s/v1/shipments/%s | jq\n", sys.GatewayURL, res.Delivered.ID)
	fmt.Printf("     after: set -a; . %s; set +a\n", filepath.Join(sys.Home, "services", "gateway", "api-keys.env"))
	return nil
}
