// Command shiptrace-identity manages an organisation's identities at its
// Fabric CA, through fabric-sdk-go (see package identity for why):
//
//	shiptrace-identity issue    --ca CA.json --name N [--type client] --role R --msp DIR [--tls DIR]
//	shiptrace-identity reenroll --ca CA.json --name N --msp DIR
//	shiptrace-identity revoke   --ca CA.json --name N [--reason R] --crl FILE
//	shiptrace-identity list     --ca CA.json
//	shiptrace-identity bootstrap --plan PLAN.json
//
// CA.json describes the CA server and its registrar (see package plan); the
// local network writes one per organisation under <home>/ca/<org>/client.json.
// On the local network, use `scripts/shipnet identity ...`, which fills these
// in and also publishes revocations to the channel.
package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"text/tabwriter"

	"github.com/shiptrace/shiptrace/identity"
	"github.com/shiptrace/shiptrace/identity/plan"
	"github.com/shiptrace/shiptrace/shipment"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "shiptrace-identity:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	if len(args) == 0 {
		return errors.New("usage: shiptrace-identity issue|reenroll|revoke|list|bootstrap [flags]")
	}
	cmd := args[0]
	fs := flag.NewFlagSet(cmd, flag.ContinueOnError)
	caFile := fs.String("ca", "", "CA descriptor (JSON)")
	planFile := fs.String("plan", "", "bootstrap: plan file (JSON)")
	name := fs.String("name", "", "enrolment ID")
	typ := fs.String("type", "client", "identity type: client, admin, peer or orderer")
	role := fs.String("role", "", "issue: shiptrace.role attribute for the certificate (required: one of the contract's roles)")
	mspDir := fs.String("msp", "", "MSP folder to write")
	tlsDir := fs.String("tls", "", "TLS folder to write (client.crt, client.key, ca.crt)")
	reason := fs.String("reason", "unspecified", "revoke: reason (e.g. keycompromise, cessationofoperation)")
	crlFile := fs.String("crl", "", "revoke: where to write the CA's new CRL (PEM)")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	if cmd == "bootstrap" {
		p, err := plan.Load(*planFile)
		if err != nil {
			return err
		}
		return identity.Bootstrap(p)
	}
	ca, err := loadCA(*caFile)
	if err != nil {
		return err
	}
	c, err := identity.New(ca)
	if err != nil {
		return err
	}
	defer c.Close()
	need := func(v, flagName string) error {
		if v == "" {
			return fmt.Errorf("%s needs --%s", cmd, flagName)
		}
		return nil
	}
	switch cmd {
	case "issue":
		if err := errors.Join(need(*name, "name"), need(*mspDir, "msp"), need(*role, "role")); err != nil {
			return err
		}
		// A certificate without a known role is refused everything by the
		// contract: issuing one would only make an identity that cannot act.
		if !shipment.KnownRole(*role) {
			return fmt.Errorf("unknown role %q: the contract knows %v", *role, shipment.Roles)
		}
		m := plan.Member{Name: *name, Type: *typ, Role: *role, MSPDir: *mspDir, CertFile: *name + "-cert.pem", TLSDir: *tlsDir}
		if err := c.Issue(m); err != nil {
			return err
		}
		fmt.Printf("issued %s (type %s, role %q): MSP in %s\n", *name, *typ, *role, *mspDir)
		return nil
	case "reenroll":
		if err := errors.Join(need(*name, "name"), need(*mspDir, "msp")); err != nil {
			return err
		}
		e, err := c.Reenroll(*name)
		if err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(*mspDir, "signcerts", *name+"-cert.pem"), e.Cert, 0o644); err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(*mspDir, "keystore", "priv_sk"), e.Key, 0o600); err != nil {
			return err
		}
		fmt.Printf("re-enrolled %s: new certificate and key in %s\n", *name, *mspDir)
		return nil
	case "revoke":
		if err := errors.Join(need(*name, "name"), need(*crlFile, "crl")); err != nil {
			return err
		}
		crl, err := c.Revoke(*name, *reason)
		if err != nil {
			return err
		}
		if err := os.WriteFile(*crlFile, crl, 0o644); err != nil {
			return err
		}
		fmt.Printf("revoked %s; CRL written to %s\n", *name, *crlFile)
		return nil
	case "list":
		ids, err := c.List()
		if err != nil {
			return err
		}
		tw := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "NAME\tTYPE\tROLE")
		for _, id := range ids {
			fmt.Fprintf(tw, "%s\t%s\t%s\n", id.Name, id.Type, id.Role)
		}
		return tw.Flush()
	}
	return fmt.Errorf("unknown command %q", cmd)
}

func loadCA(path string) (plan.CA, error) {
	var ca plan.CA
	if path == "" {
		return ca, errors.New("--ca is required (the local network writes <home>/ca/<org>/client.json)")
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return ca, err
	}
	if err := json.Unmarshal(b, &ca); err != nil {
		return ca, fmt.Errorf("%s: %w", path, err)
	}
	return ca, nil
}
