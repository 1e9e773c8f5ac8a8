package attack

// Attacks by a malicious member: identities that sign every message
// themselves, so a test can alter a proposal or assemble a transaction by
// hand, and talk to peers and orderers directly instead of through the
// product's REST gateway. Each attack test asserts that the ledger refuses
// the attack and that the shipment record is unchanged.

import (
	"bytes"
	"context"
	"crypto/sha256"
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
	"github.com/hyperledger/fabric-gateway/pkg/identity"
	"github.com/hyperledger/fabric-protos-go-apiv2/common"
	"github.com/hyperledger/fabric-protos-go-apiv2/gateway"
	"github.com/hyperledger/fabric-protos-go-apiv2/msp"
	"github.com/hyperledger/fabric-protos-go-apiv2/peer"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/shiptrace/shiptrace/fabric"
	"github.com/shiptrace/shiptrace/shipment"
	"github.com/shiptrace/shiptrace/test/testnet"
)

const (
	mspExporter = "ExporterMSP"
	mspCarrier  = "CarrierMSP"
	mspRetailer = "RetailerMSP"

	// stepTimeout bounds one ledger round trip (endorse, order, commit).
	stepTimeout = 2 * time.Minute
)

var memberMSPs = []string{mspExporter, mspCarrier, mspRetailer}

// party is one identity acting on the ledger with its own key. gw signs by
// itself (reads, block events); offline has no signer, so every message sent
// through it is signed by hand, after the test has had its way with it.
type party struct {
	msp, name string
	user      fabric.User
	id        *identity.X509Identity
	sign      identity.Sign
	gw        *client.Gateway
	offline   *client.Gateway
	channel   string
	chaincode string
}

func (p *party) String() string { return p.name + "@" + p.msp }

// creator is p's SerializedIdentity, as it appears in headers and endorsements.
func (p *party) creator() ([]byte, error) {
	b, err := proto.Marshal(&msp.SerializedIdentity{Mspid: p.msp, IdBytes: p.id.Credentials()})
	if err != nil {
		return nil, fmt.Errorf("serialize identity of %s: %w", p, err)
	}
	return b, nil
}

// signBytes is ECDSA P-256 over SHA-256, low-S, ASN.1, as Fabric expects.
func (p *party) signBytes(msg []byte) ([]byte, error) {
	sum := sha256.Sum256(msg)
	sig, err := p.sign(sum[:])
	if err != nil {
		return nil, fmt.Errorf("sign as %s: %w", p, err)
	}
	return sig, nil
}

func (p *party) network() *client.Network { return p.gw.GetNetwork(p.channel) }

func (p *party) contract() *client.Contract { return p.network().GetContract(p.chaincode) }

// orgUser connects as the organisation's service identity User1 (no role:
// the organisation's full rights).
func orgUser(t *testing.T, net *testnet.Network, mspID string) *party {
	t.Helper()
	org, err := net.Profile.Org(mspID)
	if err != nil {
		t.Fatal(err)
	}
	user, err := org.User("User1")
	if err != nil {
		t.Fatal(err)
	}
	return connectParty(t, net, mspID, "User1", user)
}

// issueParty has msp's Fabric CA issue a fresh identity with role and
// connects as it (its own enrolment certificate and TLS client certificate).
func issueParty(t *testing.T, net *testnet.Network, mspID, role string) *party {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	name := testnet.UniqueID(strings.ReplaceAll(role, "_", "-"))
	cmd := exec.CommandContext(ctx, filepath.Join(net.Repo, "scripts", "shipnet"),
		"identity", "issue", "--org", mspID, "--name", name, "--role", role, "--home", net.Home)
	cmd.Dir = net.Repo
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("shipnet identity issue --org %s --name %s --role %s: %v\n%s", mspID, name, role, err, out)
	}
	user, err := fabric.MSPUser(filepath.Join(net.Home, "identities", mspID, name))
	if err != nil {
		t.Fatal(err)
	}
	return connectParty(t, net, mspID, name, user)
}

func connectParty(t *testing.T, net *testnet.Network, mspID, name string, user fabric.User) *party {
	t.Helper()
	org, err := net.Profile.Org(mspID)
	if err != nil {
		t.Fatal(err)
	}
	id, sign, err := fabric.Identity(mspID, user)
	if err != nil {
		t.Fatalf("identity %s@%s: %v", name, mspID, err)
	}
	conn, err := fabric.Dial(org.Peers[0], user)
	if err != nil {
		t.Fatalf("dial %s as %s@%s: %v", org.Peers[0].Name, name, mspID, err)
	}
	t.Cleanup(func() { conn.Close() })
	tlsHash, err := fabric.TLSCertificateHash(user)
	if err != nil {
		t.Fatalf("%s@%s: %v", name, mspID, err)
	}
	opts := []client.ConnectOption{client.WithClientConnection(conn), client.WithTLSClientCertificateHash(tlsHash),
		client.WithEvaluateTimeout(30 * time.Second), client.WithEndorseTimeout(30 * time.Second),
		client.WithSubmitTimeout(30 * time.Second), client.WithCommitStatusTimeout(time.Minute)}
	gw, err := client.Connect(id, append(opts, client.WithSign(sign))...)
	if err != nil {
		t.Fatalf("connect as %s@%s: %v", name, mspID, err)
	}
	t.Cleanup(func() { gw.Close() })
	offline, err := client.Connect(id, opts...)
	if err != nil {
		t.Fatalf("connect as %s@%s (offline signing): %v", name, mspID, err)
	}
	t.Cleanup(func() { offline.Close() })
	return &party{msp: mspID, name: name, user: user, id: id, sign: sign, gw: gw, offline: offline,
		channel: net.Profile.Channel, chaincode: net.Profile.Chaincode}
}

// channelHeaderEdit changes a proposal's channel header before it is signed.
type channelHeaderEdit func(*common.ChannelHeader)

// submitEdited sends fn through p's peer with offline signing: the gateway
// builds the proposal, edit (if not nil) rewrites its channel header, p signs
// the result, and the proposal, transaction and commit-status request are
// each signed by hand. An endorsement refusal is returned as an error; a
// transaction that commits invalid is not (see the returned status).
func (p *party) submitEdited(ctx context.Context, edit channelHeaderEdit, fn string, args ...string) (*client.Status, error) {
	contract := p.offline.GetNetwork(p.channel).GetContract(p.chaincode)
	unsigned, err := contract.NewProposal(fn, client.WithArguments(args...))
	if err != nil {
		return nil, fmt.Errorf("new proposal %s: %w", fn, err)
	}
	raw, err := unsigned.Bytes()
	if err != nil {
		return nil, fmt.Errorf("proposal %s bytes: %w", fn, err)
	}
	raw, proposalBytes, err := editProposal(raw, edit)
	if err != nil {
		return nil, fmt.Errorf("edit proposal %s: %w", fn, err)
	}
	sig, err := p.signBytes(proposalBytes)
	if err != nil {
		return nil, err
	}
	proposal, err := p.offline.NewSignedProposal(raw, sig)
	if err != nil {
		return nil, fmt.Errorf("signed proposal %s: %w", fn, err)
	}
	unsignedTx, err := proposal.EndorseWithContext(ctx)
	if err != nil {
		return nil, fmt.Errorf("endorse %s as %s: %w%s", fn, p, err, testnet.PeerMessages(err))
	}
	txBytes, err := unsignedTx.Bytes()
	if err != nil {
		return nil, fmt.Errorf("transaction %s bytes: %w", fn, err)
	}
	txSig, err := p.sign(unsignedTx.Digest())
	if err != nil {
		return nil, fmt.Errorf("sign transaction %s: %w", fn, err)
	}
	tx, err := p.offline.NewSignedTransaction(txBytes, txSig)
	if err != nil {
		return nil, fmt.Errorf("signed transaction %s: %w", fn, err)
	}
	if _, err := tx.SubmitWithContext(ctx); err != nil {
		return nil, fmt.Errorf("submit %s as %s: %w%s", fn, p, err, testnet.PeerMessages(err))
	}
	return p.commitStatus(ctx, tx.TransactionID())
}

// editProposal applies edit to the channel header inside a serialized
// gateway ProposedTransaction; it returns the new ProposedTransaction and the
// new Proposal bytes (what the creator signs).
func editProposal(raw []byte, edit channelHeaderEdit) ([]byte, []byte, error) {
	var pt gateway.ProposedTransaction
	if err := proto.Unmarshal(raw, &pt); err != nil {
		return nil, nil, fmt.Errorf("proposed transaction: %w", err)
	}
	if edit == nil {
		return raw, pt.GetProposal().GetProposalBytes(), nil
	}
	var prop peer.Proposal
	if err := proto.Unmarshal(pt.GetProposal().GetProposalBytes(), &prop); err != nil {
		return nil, nil, fmt.Errorf("proposal: %w", err)
	}
	var hdr common.Header
	if err := proto.Unmarshal(prop.GetHeader(), &hdr); err != nil {
		return nil, nil, fmt.Errorf("header: %w", err)
	}
	var ch common.ChannelHeader
	if err := proto.Unmarshal(hdr.GetChannelHeader(), &ch); err != nil {
		return nil, nil, fmt.Errorf("channel header: %w", err)
	}
	edit(&ch)
	var err error
	if hdr.ChannelHeader, err = proto.Marshal(&ch); err != nil {
		return nil, nil, err
	}
	if prop.Header, err = proto.Marshal(&hdr); err != nil {
		return nil, nil, err
	}
	proposalBytes, err := proto.Marshal(&prop)
	if err != nil {
		return nil, nil, err
	}
	pt.Proposal = &peer.SignedProposal{ProposalBytes: proposalBytes}
	out, err := proto.Marshal(&pt)
	if err != nil {
		return nil, nil, err
	}
	return out, proposalBytes, nil
}

// datedAt sets the transaction time the submitter claims.
func datedAt(at time.Time) channelHeaderEdit {
	return func(ch *common.ChannelHeader) { ch.Timestamp = timestamppb.New(at) }
}

// commitStatus waits for txID to commit, as seen by p's peer, with a
// commit-status request p builds and signs itself (works for a transaction
// that never passed through the gateway).
func (p *party) commitStatus(ctx context.Context, txID string) (*client.Status, error) {
	creator, err := p.creator()
	if err != nil {
		return nil, err
	}
	req, err := proto.Marshal(&gateway.CommitStatusRequest{ChannelId: p.channel, TransactionId: txID, Identity: creator})
	if err != nil {
		return nil, fmt.Errorf("commit status request for %s: %w", txID, err)
	}
	sig, err := p.signBytes(req)
	if err != nil {
		return nil, err
	}
	signed, err := proto.Marshal(&gateway.SignedCommitStatusRequest{Request: req})
	if err != nil {
		return nil, fmt.Errorf("commit status request for %s: %w", txID, err)
	}
	commit, err := p.offline.NewSignedCommit(signed, sig)
	if err != nil {
		return nil, fmt.Errorf("commit of %s: %w", txID, err)
	}
	st, err := commit.StatusWithContext(ctx)
	if err != nil {
		return nil, fmt.Errorf("commit status of %s: %w", txID, err)
	}
	return st, nil
}

// ledger is the three member organisations acting honestly through their
// User1: it sets shipments up and reads them back.
type ledger struct {
	net   *testnet.Network
	users map[string]*party
}

func openLedger(t *testing.T) *ledger {
	t.Helper()
	net := testnet.Require(t)
	l := &ledger{net: net, users: map[string]*party{}}
	for _, m := range memberMSPs {
		l.users[m] = orgUser(t, net, m)
	}
	return l
}

// do commits fn as msp's User1 and waits until every peer has the block:
// the next transaction may be endorsed by another organisation's peer.
func (l *ledger) do(t *testing.T, mspID, fn string, args ...string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), stepTimeout)
	defer cancel()
	st, err := l.users[mspID].submitEdited(ctx, nil, fn, args...)
	if err != nil {
		t.Fatalf("set-up %s: %v", fn, err)
	}
	if !st.Successful {
		t.Fatalf("set-up %s: transaction %s committed %s", fn, st.TransactionID, st.Code)
	}
	l.sync(t, st.BlockNumber)
}

// sync waits until every organisation's peer has committed block.
func (l *ledger) sync(t *testing.T, block uint64) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var wg sync.WaitGroup
	errs := make([]error, len(memberMSPs))
	for i, m := range memberMSPs {
		wg.Go(func() {
			if err := testnet.AwaitBlock(ctx, l.users[m].network(), block); err != nil {
				errs[i] = fmt.Errorf("%s peer: %w", m, err)
			}
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
}

// record reads the shipment's public record as the exporter sees it.
func (l *ledger) record(t *testing.T, id string) []byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	b, err := l.users[mspExporter].contract().EvaluateWithContext(ctx, "ReadShipment", client.WithArguments(id))
	if err != nil {
		t.Fatalf("read shipment %s: %v%s", id, err, testnet.PeerMessages(err))
	}
	return b
}

func (l *ledger) shipment(t *testing.T, id string) shipment.Shipment {
	t.Helper()
	var s shipment.Shipment
	if b := l.record(t, id); json.Unmarshal(b, &s) != nil {
		t.Fatalf("decode shipment %s: %q", id, b)
	}
	return s
}

// create records a new shipment by the exporter, to RetailerMSP via
// CarrierMSP, with terms; change adjusts the request first.
func (l *ledger) create(t *testing.T, change func(*shipment.NewShipment)) string {
	t.Helper()
	id := testnet.UniqueID("ATK")
	n := testnet.NewShipment(id, mspRetailer, mspCarrier, time.Now().Add(10*24*time.Hour).Truncate(time.Second))
	if change != nil {
		change(&n)
	}
	b, err := json.Marshal(n)
	if err != nil {
		t.Fatal(err)
	}
	l.do(t, mspExporter, "CreateShipment", string(b))
	return id
}

// attempt is what became of an attack: refused before ordering (err), or
// ordered and committed with a validation code (st).
type attempt struct {
	st  *client.Status
	err error
}

// ordererRefusal is an orderer's answer other than SUCCESS to a broadcast.
type ordererRefusal struct{ msg string }

func (e *ordererRefusal) Error() string { return e.msg }

// refusal reports whether err is the ledger saying no (peers refused to
// endorse, or the orderer refused the envelope), as opposed to a failure to
// carry the attack out at all, which proves nothing.
func refusal(err error) bool {
	var endorse *client.EndorseError
	var orderer *ordererRefusal
	return errors.As(err, &endorse) || errors.As(err, &orderer)
}

// refused reports whether the ledger refused the attack, and says how.
func (a attempt) refused() (bool, string) {
	switch {
	case a.err != nil:
		return true, "refused before commit: " + a.err.Error()
	case !a.st.Successful:
		return true, fmt.Sprintf("transaction %s committed in block %d as %s", a.st.TransactionID, a.st.BlockNumber, a.st.Code)
	}
	return false, ""
}

// assertRefused fails the test, with the evidence, when the attack committed
// VALID, and in any case when the record of id changed; it waits for every
// peer to have the attack's block before reading the record back.
func (l *ledger) assertRefused(t *testing.T, attack, id string, before []byte, a attempt) {
	t.Helper()
	if a.err != nil && !refusal(a.err) {
		t.Fatalf("%s: the attack could not be carried out, which proves nothing: %v", attack, a.err)
	}
	if a.st != nil {
		l.sync(t, a.st.BlockNumber)
	}
	after := l.record(t, id)
	if ok, how := a.refused(); ok {
		t.Logf("%s: %s", attack, how)
	} else {
		t.Errorf("ATTACK SUCCEEDED: %s: transaction %s committed VALID in block %d", attack, a.st.TransactionID, a.st.BlockNumber)
	}
	if !bytes.Equal(before, after) {
		t.Errorf("ATTACK SUCCEEDED: %s: shipment %s changed:\n  before: %s\n  after:  %s", attack, id, before, after)
	}
}
