// Package identity_test checks the contract's roles on the real local
// network, with identities that the organisations' Fabric CAs issue through
// `scripts/shipnet identity` (register with a shiptrace.role attribute,
// enrol, revoke). It shells out to that command and never links
// fabric-sdk-go, whose protobuf registrations conflict with fabric-gateway's.
package identity_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hyperledger/fabric-gateway/pkg/client"

	"github.com/shiptrace/shiptrace/fabric"
	"github.com/shiptrace/shiptrace/shipment"
	"github.com/shiptrace/shiptrace/test/testnet"
)

const (
	exporterMSP = "ExporterMSP"
	carrierMSP  = "CarrierMSP"
	retailerMSP = "RetailerMSP"
)

var members = []string{exporterMSP, carrierMSP, retailerMSP}

// shipnetIdentity runs `scripts/shipnet identity <args> --home <home>`.
func shipnetIdentity(ctx context.Context, net *testnet.Network, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, filepath.Join(net.Repo, "scripts", "shipnet"),
		append(append([]string{"identity"}, args...), "--home", net.Home)...)
	cmd.Dir = net.Repo
	out, err := cmd.CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("shipnet identity %s: %w\n%s", strings.Join(args, " "), err, out)
	}
	return string(out), nil
}

// member is an identity issued by its organisation's CA, connected to its
// organisation's peer with its own certificate and key.
type member struct {
	msp, role, name string
	contract        *client.Contract
}

func (m *member) String() string { return m.role + "@" + m.msp + " (" + m.name + ")" }

// issue registers and enrols a fresh identity with role at msp's CA.
func issue(ctx context.Context, net *testnet.Network, msp, role string) (*member, error) {
	name := testnet.UniqueID(strings.ReplaceAll(role, "_", "-"))
	if out, err := shipnetIdentity(ctx, net, "issue", "--org", msp, "--name", name, "--role", role); err != nil {
		if strings.Contains(out, "--crypto ca") {
			return nil, fmt.Errorf("the running network has no Fabric CAs (it was created with cryptogen); "+
				"these tests need a network created with `shipnet up --crypto ca`: %w", err)
		}
		return nil, err
	}
	return &member{msp: msp, role: role, name: name}, nil
}

// issueAll issues one identity per (msp, role), one after the other:
// `shipnet identity issue` may build its tool and rewrites the local
// gateway's configuration, so concurrent calls would trip over each other.
func issueAll(t *testing.T, net *testnet.Network, want [][2]string) []*member {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	out := make([]*member, len(want))
	for i, w := range want {
		m, err := issue(ctx, net, w[0], w[1])
		if err != nil {
			t.Fatalf("issue %s@%s: %v", w[1], w[0], err)
		}
		m.contract = connectAs(t, net, m)
		out[i] = m
	}
	return out
}

// connectAs opens a fabric-gateway connection to m's organisation's peer,
// signing with m's enrolment certificate and key and authenticating TLS with
// m's TLS client certificate.
func connectAs(t *testing.T, net *testnet.Network, m *member) *client.Contract {
	t.Helper()
	user, err := fabric.MSPUser(filepath.Join(net.Home, "identities", m.msp, m.name))
	if err != nil {
		t.Fatalf("identity of %s: %v", m, err)
	}
	org, err := net.Profile.Org(m.msp)
	if err != nil {
		t.Fatal(err)
	}
	gw, conn, err := fabric.Connect(m.msp, org.Peers[0], user,
		client.WithEvaluateTimeout(30*time.Second), client.WithEndorseTimeout(30*time.Second),
		client.WithSubmitTimeout(30*time.Second), client.WithCommitStatusTimeout(time.Minute))
	if err != nil {
		t.Fatalf("connect as %s: %v", m, err)
	}
	t.Cleanup(func() {
		gw.Close()
		conn.Close()
	})
	return gw.GetNetwork(net.Profile.Channel).GetContract(net.Profile.Chaincode)
}

// call is one transaction as a client sends it.
type call struct {
	fn        string
	args      []string
	transient map[string][]byte
	endorsers []string // organisations that must endorse (contact transactions)
}

func (c call) evaluate() bool {
	switch shipment.Operation(c.fn) {
	case shipment.OpRead, shipment.OpList, shipment.OpHistory, shipment.OpReadings, shipment.OpReadContact, shipment.OpReadMembers, shipment.OpClaims, shipment.OpReadPlots:
		return true
	}
	return false
}

func (c call) options() []client.ProposalOption {
	opts := []client.ProposalOption{client.WithArguments(c.args...)}
	if c.transient != nil {
		opts = append(opts, client.WithTransient(c.transient))
	}
	if len(c.endorsers) > 0 {
		opts = append(opts, client.WithEndorsingOrganizations(c.endorsers...))
	}
	return opts
}

// run evaluates a read or submits a change and waits for its commit; it
// returns the result and, for a change, the block it committed in.
func run(ctx context.Context, contract *client.Contract, c call) ([]byte, uint64, error) {
	if c.evaluate() {
		res, err := contract.EvaluateWithContext(ctx, c.fn, c.options()...)
		if err != nil {
			return nil, 0, fmt.Errorf("evaluate %s: %w%s", c.fn, err, testnet.PeerMessages(err))
		}
		return res, 0, nil
	}
	res, commit, err := contract.SubmitAsyncWithContext(ctx, c.fn, c.options()...)
	if err != nil {
		return nil, 0, fmt.Errorf("submit %s: %w%s", c.fn, err, testnet.PeerMessages(err))
	}
	st, err := commit.StatusWithContext(ctx)
	if err != nil {
		return nil, 0, fmt.Errorf("commit status of %s: %w", c.fn, err)
	}
	if !st.Successful {
		return nil, 0, fmt.Errorf("%s: transaction %s invalid: %s", c.fn, st.TransactionID, st.Code)
	}
	return res, st.BlockNumber, nil
}

// orgs are the member organisations acting through their gateway identity
// (User1, role gateway: every shipment operation), used to set shipments up.
type orgs struct {
	net       *testnet.Network
	contracts map[string]*client.Contract
	networks  map[string]*client.Network
}

func connectOrgs(t *testing.T, net *testnet.Network) *orgs {
	t.Helper()
	o := &orgs{net: net, contracts: map[string]*client.Contract{}, networks: map[string]*client.Network{}}
	for _, msp := range members {
		n := net.Gateway(t, msp).GetNetwork(net.Profile.Channel)
		o.networks[msp] = n
		o.contracts[msp] = n.GetContract(net.Profile.Chaincode)
	}
	return o
}

// submit commits a change as msp's gateway identity and waits until every
// organisation's peer has the block: the next transaction may be endorsed
// by another organisation's peer.
func (o *orgs) submit(ctx context.Context, msp string, c call) error {
	_, block, err := run(ctx, o.contracts[msp], c)
	if err != nil {
		return fmt.Errorf("%s as %s: %w", c.fn, msp, err)
	}
	return o.sync(ctx, block)
}

// sync waits until every organisation's peer has committed block.
func (o *orgs) sync(ctx context.Context, block uint64) error {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	var wg sync.WaitGroup
	errs := make([]error, len(members))
	for i, msp := range members {
		wg.Go(func() { errs[i] = awaitBlock(ctx, msp, o.networks[msp], block) })
	}
	wg.Wait()
	return errors.Join(errs...)
}

func awaitBlock(ctx context.Context, msp string, network *client.Network, block uint64) error {
	if err := testnet.AwaitBlock(ctx, network, block); err != nil {
		return fmt.Errorf("%s: %w", msp, err)
	}
	return nil
}

// others returns the two member organisations other than msp.
func others(msp string) (string, string) {
	var out []string
	for _, m := range members {
		if m != msp {
			out = append(out, m)
		}
	}
	return out[0], out[1]
}

// newShipmentJSON is a creation request; the submitting organisation becomes
// the exporter.
func newShipmentJSON(id, buyer, carrier string, expected time.Time) string {
	b, err := json.Marshal(testnet.NewShipment(id, buyer, carrier, expected))
	if err != nil {
		panic(err) // a fixed, valid struct
	}
	return string(b)
}

// readingsJSON is a one-reading batch dated now (call it after the set-up's
// hand-over: a reading must fall inside the recorder's custody); n makes
// batches distinct (a batch already recorded is not recorded again).
func readingsJSON(n int) string {
	at := time.Now().UTC().Truncate(time.Millisecond).Add(time.Duration(n) * time.Millisecond)
	b, err := json.Marshal([]shipment.Reading{{SensorID: "LOGGER-1", Time: at, Celsius: 5}})
	if err != nil {
		panic(err) // a fixed, valid struct
	}
	return string(b)
}
