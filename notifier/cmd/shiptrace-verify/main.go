// Command shiptrace-verify checks a proof of notification (the JSON the
// notifier's admin API serves at GET /v1/notifications/{id}/proof) against
// the ledger, as any member of the channel, with that member's own
// identity and peer: the records' audit paths lead to the root, the
// NotificationAnchor transaction returns that root for the batch, and the
// peer's block store holds the anchoring transaction, valid, in the block
// the proof names, submitted by the organisation the anchor records.
//
//	shiptrace-verify --profile connection.json --msp RetailerMSP [--user User1] PROOF.json|-
//
// Exit status 0: every record is valid; 1: a record is not (or the proof
// could not be checked), with the reason on stderr.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/shiptrace/shiptrace/fabric"
	"github.com/shiptrace/shiptrace/notifier/anchor"
	"github.com/shiptrace/shiptrace/notifier/proof"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("shiptrace-verify", flag.ContinueOnError)
	fs.SetOutput(stderr)
	profile := fs.String("profile", os.Getenv("SHIPTRACE_VERIFY_PROFILE"), "the network's connection.json (shipnet writes <home>/connection.json)")
	msp := fs.String("msp", os.Getenv("SHIPTRACE_VERIFY_MSP"), "MSP ID of the member that verifies (its own peer answers)")
	user := fs.String("user", "User1", "user of --msp in the connection profile (any role that may read: auditor, gateway, ...)")
	channel := fs.String("channel", "supplychain", "channel name")
	chaincode := fs.String("chaincode", "shiptrace", "chaincode name")
	timeout := fs.Duration("timeout", 30*time.Second, "time allowed for the ledger queries")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: shiptrace-verify --profile connection.json --msp MSPID [--user User1] PROOF.json|-")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return 1
	}
	if fs.NArg() != 1 || *profile == "" || *msp == "" {
		fs.Usage()
		return 1
	}
	p, err := readProof(fs.Arg(0), stdin)
	if err != nil {
		fmt.Fprintln(stderr, "CANNOT VERIFY:", err)
		return 1
	}
	ledger, closeLedger, err := connect(*profile, *msp, *user, *channel, *chaincode)
	if err != nil {
		fmt.Fprintln(stderr, "CANNOT VERIFY: connect to the ledger:", err)
		return 1
	}
	defer closeLedger()
	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()
	verified, err := proof.Verify(ctx, p, ledger)
	for _, v := range verified {
		report(stdout, v)
	}
	if err != nil {
		fmt.Fprintf(stderr, "INVALID: proof of notification %s: %v\n", p.NotificationID, err)
		return 1
	}
	fmt.Fprintf(stdout, "VALID: %d status record(s) of notification %s are anchored on channel %s (checked as %s)\n",
		len(verified), p.NotificationID, *channel, *msp)
	return 0
}

func readProof(name string, stdin io.Reader) (proof.Proof, error) {
	var p proof.Proof
	var b []byte
	var err error
	if name == "-" {
		b, err = io.ReadAll(stdin)
	} else {
		b, err = os.ReadFile(name)
	}
	if err != nil {
		return p, fmt.Errorf("read the proof: %w", err)
	}
	if err := json.Unmarshal(b, &p); err != nil {
		return p, fmt.Errorf("the proof is not JSON of a proof of notification: %w", err)
	}
	if p.State == proof.StatePending {
		return p, errors.New("the proof is still pending: some of its records are not anchored yet; fetch it again after the next anchoring round")
	}
	return p, nil
}

func connect(profile, msp, user, channel, chaincode string) (anchor.Fabric, func(), error) {
	prof, err := fabric.Load(profile)
	if err != nil {
		return anchor.Fabric{}, nil, err
	}
	m, err := prof.Member("verifier", msp, user)
	if err != nil {
		return anchor.Fabric{}, nil, err
	}
	c, err := fabric.Open([]fabric.Member{m}, fabric.Options{Channel: channel, Chaincode: chaincode})
	if err != nil {
		return anchor.Fabric{}, nil, err
	}
	return anchor.Fabric{Client: c, Identity: m.Name}, func() { _ = c.Close() }, nil
}

func report(w io.Writer, v proof.Verified) {
	r := v.Record
	code := ""
	if r.ErrorCode != 0 {
		code = fmt.Sprintf(" error %d", r.ErrorCode)
	}
	fmt.Fprintf(w, "ok  %-9s at %s (%s)%s  shipment %s  %s → %s  template %s\n    batch %s leaf %d of %d  root %s\n    anchored by %s in transaction %s, block %d, at %s\n",
		r.Status, r.At.UTC().Format(time.RFC3339), r.Source, code, r.ShipmentID, r.Event, r.Recipient, r.Template,
		v.Anchor.BatchID, v.Leaf, v.Anchor.LeafCount, v.Anchor.Root,
		v.Anchor.MSPID, v.Anchor.TxID, v.Block, v.Anchor.AnchoredAt.UTC().Format(time.RFC3339))
}
