// Package identity manages the people and devices of a member organisation
// through its Fabric CA: register an identity with a role, enrol it into an
// MSP folder (and a TLS certificate from the org's TLS CA), re-enrol it before
// its certificate expires, revoke it and produce the CRL, list identities.
//
// Why fabric-sdk-go here, when every other Fabric call in shiptrace goes
// through fabric-gateway: fabric-gateway only submits and evaluates
// transactions and reads events; it has no Fabric CA client. fabric-sdk-go's
// pkg/client/msp is the maintained Go client for the Fabric CA REST API
// (enrol, register, re-enrol, revoke, identities), so it is used for exactly
// that and nothing else. The two SDKs register the same protobuf names and
// cannot be linked into one binary, so this package lives behind its own
// command, shiptrace-identity.
package identity

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"

	mspclient "github.com/hyperledger/fabric-sdk-go/pkg/client/msp"
	"github.com/hyperledger/fabric-sdk-go/pkg/common/logging"
	"github.com/hyperledger/fabric-sdk-go/pkg/core/config"
	"github.com/hyperledger/fabric-sdk-go/pkg/fabsdk"

	"github.com/shiptrace/shiptrace/identity/plan"
)

// RoleAttribute is the ECert attribute the contract reads for a caller's role.
const RoleAttribute = "shiptrace.role"

// Registrar is the CA's bootstrap identity, which registers and revokes.
const Registrar = "registrar"

// Client talks to one organisation's CA server: its enrolment CA and its TLS
// CA.
type Client struct {
	ca      plan.CA
	ecert   *instance
	tlsCert *instance
	mu      sync.Mutex // the SDK's user store keeps one entry per name: enrol one at a time
}

// instance is one CA instance with its own SDK and credential store: the
// registrar holds a different certificate at each CA, and the SDK's store
// keeps one per name.
type instance struct {
	caName string
	sdk    *fabsdk.FabricSDK
	client *mspclient.Client
	keyDir string
}

// Registration is an identity to register.
type Registration struct {
	Name   string
	Type   string // client, admin, peer or orderer (becomes the OU; Fabric NodeOUs)
	Role   string // shiptrace.role attribute, put in every ECert; required for client and admin
	Secret string // empty: the CA generates one
	// TLSOnly registers at the TLS CA alone: an identity that only ever gets
	// a TLS certificate (a chaincode server) has nothing to enrol at the
	// enrolment CA, so it is not registered there.
	TLSOnly bool
}

// needsRole reports whether identities of type typ must carry a role: those
// that sign transactions as users. The contract refuses a certificate
// without a known role everything, so a client or admin registered without
// one could do nothing; peers and orderers never call the contract.
func needsRole(typ string) bool { return typ == "" || typ == "client" || typ == "admin" }

// Enrolment is what an enrolment returns: PEM certificate and private key.
type Enrolment struct {
	Cert []byte
	Key  []byte
}

func init() {
	// The SDK logs every CA call at INFO through its own logger.
	logging.SetLevel("", logging.WARNING)
}

// New opens a client for the organisation's CA server, acting as its
// registrar.
func New(ca plan.CA) (*Client, error) {
	secret, err := os.ReadFile(ca.SecretFile)
	if err != nil {
		return nil, fmt.Errorf("registrar secret of %s: %w", ca.Org, err)
	}
	c := &Client{ca: ca}
	if c.ecert, err = newInstance(ca, ca.CAName, strings.TrimSpace(string(secret))); err != nil {
		return nil, err
	}
	if c.tlsCert, err = newInstance(ca, ca.TLSCAName, strings.TrimSpace(string(secret))); err != nil {
		c.ecert.sdk.Close()
		return nil, err
	}
	return c, nil
}

func newInstance(ca plan.CA, caName, secret string) (*instance, error) {
	store := filepath.Join(ca.StoreDir, caName)
	if err := os.MkdirAll(store, 0o700); err != nil {
		return nil, err
	}
	keyDir := filepath.Join(store, "keystore")
	sdk, err := fabsdk.New(config.FromRaw([]byte(sdkConfig(ca, caName, secret, store, keyDir)), "yaml"))
	if err != nil {
		return nil, fmt.Errorf("fabric-sdk-go for %s: %w", caName, err)
	}
	client, err := mspclient.New(sdk.Context(), mspclient.WithOrg(ca.Org), mspclient.WithCAInstance("ca"))
	if err != nil {
		sdk.Close()
		return nil, fmt.Errorf("CA client for %s: %w", caName, err)
	}
	return &instance{caName: caName, sdk: sdk, client: client, keyDir: keyDir}, nil
}

// Close releases the SDKs.
func (c *Client) Close() {
	c.ecert.sdk.Close()
	c.tlsCert.sdk.Close()
}

// Register registers an identity at both the enrolment CA and the TLS CA
// (with the same secret) and returns the secret. Registering a name twice is
// an error from the CA.
//
// The role is registered as an ECert attribute (ecert: true), so every
// enrolment and re-enrolment that requests no attributes carries it. A
// client can ask the CA for a certificate with fewer attributes (an explicit
// empty attr_reqs gets none at all), never for attributes it was not
// registered with; the contract refuses a certificate without a known role,
// so dropping the attribute only loses rights.
func (c *Client) Register(r Registration) (string, error) {
	if r.TLSOnly {
		return c.register(c.tlsCert, r, r.Secret, nil)
	}
	if r.Role == "" && needsRole(r.Type) {
		return "", fmt.Errorf("register %s: a %s identity needs a role (%s): the contract refuses a certificate without one everything",
			r.Name, typeOrClient(r.Type), RoleAttribute)
	}
	var attrs []mspclient.Attribute
	if r.Role != "" {
		attrs = []mspclient.Attribute{{Name: RoleAttribute, Value: r.Role, ECert: true}}
	}
	secret, err := c.register(c.ecert, r, r.Secret, attrs)
	if err != nil {
		return "", err
	}
	return c.register(c.tlsCert, r, secret, nil)
}

func (c *Client) register(in *instance, r Registration, secret string, attrs []mspclient.Attribute) (string, error) {
	// Register and Revoke go to the server's default CA unless the request
	// names one, whatever instance the client was made for.
	req := &mspclient.RegistrationRequest{Name: r.Name, Type: r.Type, Secret: secret, MaxEnrollments: -1,
		CAName: in.caName, Attributes: attrs}
	out, err := in.client.Register(req)
	if err != nil {
		return "", fmt.Errorf("register %s at %s: %w", r.Name, in.caName, err)
	}
	return out, nil
}

func typeOrClient(typ string) string {
	if typ == "" {
		return "client"
	}
	return typ
}

// Enroll obtains an enrolment certificate for name.
func (c *Client) Enroll(name, secret string) (*Enrolment, error) {
	return c.enroll(c.ecert, name, mspclient.WithSecret(secret))
}

// EnrollTLS obtains a TLS certificate for name (client and server use) valid
// for the given host names and addresses.
func (c *Client) EnrollTLS(name, secret string, hosts []string) (*Enrolment, error) {
	return c.enroll(c.tlsCert, name, mspclient.WithSecret(secret), mspclient.WithProfile("tls"),
		mspclient.WithCSR(&mspclient.CSRInfo{CN: name, Hosts: hosts}))
}

// Reenroll renews name's enrolment certificate with a new key, before it
// expires; the identity must have been enrolled through this client's store.
func (c *Client) Reenroll(name string) (*Enrolment, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.ecert.client.Reenroll(name); err != nil {
		return nil, fmt.Errorf("re-enrol %s: %w", name, err)
	}
	return c.read(c.ecert, name)
}

// Revoke revokes every certificate of name at the enrolment CA (and the TLS
// CA) and returns the enrolment CA's new CRL (PEM), for the channel's MSP.
func (c *Client) Revoke(name, reason string) ([]byte, error) {
	resp, err := c.ecert.client.Revoke(&mspclient.RevocationRequest{Name: name, Reason: reason, GenCRL: true, CAName: c.ecert.caName})
	if err != nil {
		return nil, fmt.Errorf("revoke %s: %w", name, err)
	}
	if _, err := c.tlsCert.client.Revoke(&mspclient.RevocationRequest{Name: name, Reason: reason, CAName: c.tlsCert.caName}); err != nil {
		return nil, fmt.Errorf("revoke %s at the TLS CA: %w", name, err)
	}
	if len(resp.CRL) == 0 {
		return nil, errors.New("the CA returned no CRL")
	}
	return resp.CRL, nil
}

// Info is one registered identity.
type Info struct {
	Name string
	Type string
	Role string
}

// List returns the identities registered at the enrolment CA.
func (c *Client) List() ([]Info, error) {
	ids, err := c.ecert.client.GetAllIdentities()
	if err != nil {
		return nil, fmt.Errorf("list identities: %w", err)
	}
	out := make([]Info, 0, len(ids))
	for _, id := range ids {
		info := Info{Name: id.ID, Type: id.Type}
		for _, a := range id.Attributes {
			if a.Name == RoleAttribute {
				info.Role = a.Value
			}
		}
		out = append(out, info)
	}
	return out, nil
}

func (c *Client) enroll(in *instance, name string, opts ...mspclient.EnrollmentOption) (*Enrolment, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := in.client.Enroll(name, opts...); err != nil {
		return nil, fmt.Errorf("enrol %s at %s: %w", name, in.caName, err)
	}
	return c.read(in, name)
}

// read returns the certificate and key the SDK stored for name. The SDK's
// software keystore cannot export keys, so the key is read from its file,
// named by the key's subject key identifier.
func (c *Client) read(in *instance, name string) (*Enrolment, error) {
	si, err := in.client.GetSigningIdentity(name)
	if err != nil {
		return nil, fmt.Errorf("read enrolment of %s: %w", name, err)
	}
	keyFile := filepath.Join(in.keyDir, "keystore", fmt.Sprintf("%x_sk", si.PrivateKey().SKI()))
	key, err := os.ReadFile(keyFile)
	if err != nil {
		return nil, fmt.Errorf("read key of %s: %w", name, err)
	}
	return &Enrolment{Cert: si.EnrollmentCertificate(), Key: key}, nil
}

// sdkConfig is the smallest fabric-sdk-go configuration for one CA instance:
// the organisation, the CA and its registrar, and where to keep credentials.
func sdkConfig(ca plan.CA, caName, secret, store, keyDir string) string {
	yaml := `
version: 1.0.0
client:
  organization: ORG
  logging:
    level: warning
  credentialStore:
    path: STORE/users
    cryptoStore:
      path: KEYS
  BCCSP:
    security:
      enabled: true
      default:
        provider: SW
      hashAlgorithm: SHA2
      softVerify: true
      level: 256
  tlsCerts:
    systemCertPool: false
organizations:
  ORG:
    mspid: MSPID
    # Required by the SDK's identity manager; unused, since users live in the
    # credential store above.
    cryptoPath: STORE/msp
    certificateAuthorities: [ca]
certificateAuthorities:
  ca:
    url: URL
    caName: CANAME
    tlsCACerts:
      path: TLSROOT
    registrar:
      enrollId: REGISTRAR
      enrollSecret: "SECRET"
`
	return strings.NewReplacer("ORG", ca.Org, "STORE", store, "KEYS", keyDir, "MSPID", ca.MSPID,
		"CANAME", caName, "URL", ca.URL, "TLSROOT", ca.CARoot(),
		"REGISTRAR", Registrar, "SECRET", secret).Replace(yaml)
}
