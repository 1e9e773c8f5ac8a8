package attack

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hyperledger/fabric-gateway/pkg/client"
	"github.com/hyperledger/fabric-gateway/pkg/identity"
	"github.com/hyperledger/fabric-protos-go-apiv2/gateway"
	"google.golang.org/grpc/status"

	"github.com/shiptrace/shiptrace/fabric"
	"github.com/shiptrace/shiptrace/identity/plan"
	"github.com/shiptrace/shiptrace/local/topology"
	"github.com/shiptrace/shiptrace/test/testnet"
)

// caAttrOID is the certificate extension in which Fabric CA puts the
// identity's attributes, as JSON {"attrs": {name: value}}
// (fabric-ca lib/attrmgr).
var caAttrOID = asn1.ObjectIdentifier{1, 2, 3, 4, 5, 6, 7, 8, 1}

// caOrg returns the topology organisation of an MSP ID.
func caOrg(t *testing.T, msp string) topology.Org {
	t.Helper()
	for _, o := range topology.PeerOrgs() {
		if o.MSPID == msp {
			return o
		}
	}
	t.Fatalf("no peer organisation %s", msp)
	return topology.Org{}
}

// caIssue runs `scripts/shipnet identity issue` as an organisation's CA
// administrator would, and returns the folder the identity's msp/ and tls/
// were written to.
func caIssue(t *testing.T, net *testnet.Network, msp, name, role string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, filepath.Join(net.Repo, "scripts", "shipnet"), "identity", "issue",
		"--org", msp, "--name", name, "--role", role, "--home", net.Home)
	cmd.Dir = net.Repo
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("shipnet identity issue %s (%s@%s): %v\n%s", name, role, msp, err, out)
	}
	return net.Local(t).IdentityDir(caOrg(t, msp), name)
}

// caDescriptor reads how to reach an organisation's CA (URL, CA names, TLS
// root) from the file the local network writes for the identity command.
func caDescriptor(t *testing.T, net *testnet.Network, msp string) plan.CA {
	t.Helper()
	path := net.Local(t).CADescriptorFile(caOrg(t, msp))
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("CA descriptor: %v", err)
	}
	var ca plan.CA
	if err := json.Unmarshal(b, &ca); err != nil {
		t.Fatalf("CA descriptor %s: %v", path, err)
	}
	return ca
}

// caAttrs returns the attributes Fabric CA put in a PEM certificate, nil
// when it has no attribute extension.
func caAttrs(t *testing.T, certPEM []byte) map[string]string {
	t.Helper()
	for _, ext := range caParseCert(t, certPEM).Extensions {
		if !ext.Id.Equal(caAttrOID) {
			continue
		}
		var attrs struct {
			Attrs map[string]string `json:"attrs"`
		}
		if err := json.Unmarshal(ext.Value, &attrs); err != nil {
			t.Fatalf("attribute extension %q: %v", ext.Value, err)
		}
		if attrs.Attrs == nil {
			attrs.Attrs = map[string]string{}
		}
		return attrs.Attrs
	}
	return nil
}

func caParseCert(t *testing.T, certPEM []byte) *x509.Certificate {
	t.Helper()
	blk, _ := pem.Decode(certPEM)
	if blk == nil {
		t.Fatal("no PEM certificate")
	}
	cert, err := x509.ParseCertificate(blk.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return cert
}

// caReenrolment is what an attacker holds after a re-enrolment.
type caReenrolment struct {
	CertPEM []byte
	Key     *ecdsa.PrivateKey
}

// caReenrollRaw re-enrols enrollmentID straight over Fabric CA's REST API
// (POST /api/v1/reenroll), authenticating with the identity's current
// certificate and key, for a fresh P-256 key, with the given attr_reqs
// (encoded verbatim: "[]" asks for no attributes). It is what any holder of
// a device's certificate and key can do; no SDK, no registrar.
func caReenrollRaw(ctx context.Context, ca plan.CA, enrollmentID string, certPEM []byte, key *ecdsa.PrivateKey, attrReqs json.RawMessage) (*caReenrolment, error) {
	newKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	csrDER, err := x509.CreateCertificateRequest(rand.Reader,
		&x509.CertificateRequest{Subject: pkix.Name{CommonName: enrollmentID}}, newKey)
	if err != nil {
		return nil, err
	}
	body, err := json.Marshal(struct {
		CSR      string          `json:"certificate_request"`
		AttrReqs json.RawMessage `json:"attr_reqs"`
		CAName   string          `json:"caname"`
	}{string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: csrDER})), attrReqs, ca.CAName})
	if err != nil {
		return nil, err
	}
	const uri = "/api/v1/reenroll"
	token, err := caToken(certPEM, key, http.MethodPost, uri, body)
	if err != nil {
		return nil, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimSuffix(ca.URL, "/")+uri, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", token)
	// The CA's root also signs the CA server's listener certificate.
	tlsCfg, err := fabric.TLSConfig(fabric.Peer{Name: ca.CAName, TLSRootCA: ca.CARoot()}, fabric.User{})
	if err != nil {
		return nil, err
	}
	hc := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{TLSClientConfig: tlsCfg}}
	resp, err := hc.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	respBody, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	var out struct {
		Success bool `json:"success"`
		Result  struct {
			Cert string `json:"Cert"` // base64 of the PEM certificate
		} `json:"result"`
		Errors []struct {
			Code    int    `json:"code"`
			Message string `json:"message"`
		} `json:"errors"`
	}
	if err := json.Unmarshal(respBody, &out); err != nil {
		return nil, fmt.Errorf("reenroll: %s: %s", resp.Status, respBody)
	}
	if !out.Success || resp.StatusCode != http.StatusCreated && resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("reenroll refused: %s: %s", resp.Status, respBody)
	}
	cert, err := base64.StdEncoding.DecodeString(out.Result.Cert)
	if err != nil {
		return nil, fmt.Errorf("reenroll: certificate: %w", err)
	}
	return &caReenrolment{CertPEM: cert, Key: newKey}, nil
}

// caToken is Fabric CA's X.509 authorisation token (fabric-ca util.GenECDSAToken):
// base64(certPEM) + "." + base64(signature), the ECDSA signature over the
// SHA-256 digest of method.base64(uri).base64(body).base64(certPEM), low-S
// as Fabric's BCCSP requires.
func caToken(certPEM []byte, key *ecdsa.PrivateKey, method, uri string, body []byte) (string, error) {
	b64 := base64.StdEncoding.EncodeToString
	b64cert := b64(certPEM)
	digest := sha256.Sum256([]byte(method + "." + b64([]byte(uri)) + "." + b64(body) + "." + b64cert))
	r, s, err := ecdsa.Sign(rand.Reader, key, digest[:])
	if err != nil {
		return "", err
	}
	n := key.Curve.Params().N
	if s.Cmp(new(big.Int).Rsh(n, 1)) > 0 {
		s.Sub(n, s)
	}
	sig, err := asn1.Marshal(struct{ R, S *big.Int }{r, s})
	if err != nil {
		return "", err
	}
	return b64cert + "." + b64(sig), nil
}

// caReadKey reads an MSP's PEM private key (PKCS#8 or SEC 1).
func caReadKey(t *testing.T, path string) *ecdsa.PrivateKey {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	key, err := identity.PrivateKeyFromPEM(b)
	if err != nil {
		t.Fatalf("key %s: %v", path, err)
	}
	k, ok := key.(*ecdsa.PrivateKey)
	if !ok {
		t.Fatalf("key %s is a %T, not ECDSA", path, key)
	}
	return k
}

// caConnect connects a plain fabric-gateway client to msp's peer, signing
// with certPEM and key and authenticating TLS with the TLS client pair of
// user: an attacker's own client, using nothing of shiptrace's gateway.
func caConnect(t *testing.T, net *testnet.Network, msp string, certPEM []byte, key *ecdsa.PrivateKey, user fabric.User) *client.Contract {
	t.Helper()
	org, err := net.Profile.Org(msp)
	if err != nil {
		t.Fatal(err)
	}
	conn, err := fabric.Dial(org.Peers[0], user)
	if err != nil {
		t.Fatal(err)
	}
	tlsHash, err := fabric.TLSCertificateHash(user)
	if err != nil {
		conn.Close()
		t.Fatal(err)
	}
	id, err := identity.NewX509Identity(msp, caParseCert(t, certPEM))
	if err != nil {
		t.Fatal(err)
	}
	sign, err := identity.NewPrivateKeySign(key)
	if err != nil {
		t.Fatal(err)
	}
	gw, err := client.Connect(id, client.WithSign(sign), client.WithClientConnection(conn),
		client.WithTLSClientCertificateHash(tlsHash),
		client.WithEvaluateTimeout(30*time.Second), client.WithEndorseTimeout(30*time.Second),
		client.WithSubmitTimeout(30*time.Second), client.WithCommitStatusTimeout(time.Minute))
	if err != nil {
		conn.Close()
		t.Fatal(err)
	}
	t.Cleanup(func() {
		gw.Close()
		conn.Close()
	})
	return gw.GetNetwork(net.Profile.Channel).GetContract(net.Profile.Chaincode)
}

// caSubmit submits a transaction and waits for its commit; it returns the
// block it committed in.
func caSubmit(ctx context.Context, contract *client.Contract, fn string, args ...string) (uint64, error) {
	_, commit, err := contract.SubmitAsyncWithContext(ctx, fn, client.WithArguments(args...))
	if err != nil {
		return 0, fmt.Errorf("submit %s: %w%s", fn, err, testnet.PeerMessages(err))
	}
	st, err := commit.StatusWithContext(ctx)
	if err != nil {
		return 0, fmt.Errorf("commit status of %s: %w", fn, err)
	}
	if !st.Successful {
		return 0, fmt.Errorf("%s: transaction %s invalid: %s", fn, st.TransactionID, st.Code)
	}
	return st.BlockNumber, nil
}

// caEndorsementRefused reports whether err is a refusal at endorsement (not
// a timeout or a commit failure) in which every peer message carries code.
func caEndorsementRefused(err error, code string) bool {
	var endorse *client.EndorseError
	if !errors.As(err, &endorse) {
		return false
	}
	st, ok := status.FromError(err)
	if !ok || len(st.Details()) == 0 {
		return false
	}
	for _, d := range st.Details() {
		ed, ok := d.(*gateway.ErrorDetail)
		if !ok || !strings.Contains(ed.GetMessage(), code) {
			return false
		}
	}
	return true
}

// caSync waits until every member organisation's peer has committed block,
// so the next transaction may be endorsed by any of them.
func caSync(t *testing.T, net *testnet.Network, block uint64) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for _, o := range topology.PeerOrgs() {
		n := net.Gateway(t, o.MSPID).GetNetwork(net.Profile.Channel)
		if err := testnet.AwaitBlock(ctx, n, block); err != nil {
			t.Fatalf("%s: %v", o.MSPID, err)
		}
	}
}
