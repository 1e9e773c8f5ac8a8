package localnet

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/shiptrace/shiptrace/fabric"
	"github.com/shiptrace/shiptrace/local/topology"
)

// opsClient talks to a node's operations endpoint over TLS.
type opsClient struct {
	base string
	hc   *http.Client
}

func (n *Network) opsClient(node topology.Node) (*opsClient, error) {
	// The org admin's TLS client certificate opens /metrics.
	userTLS := n.Layout.UserTLSDir(node.Org, "Admin")
	cfg, err := fabric.TLSConfig(fabric.Peer{Name: node.Name, TLSRootCA: n.Layout.TLSCACert(node.Org)},
		fabric.User{TLSCert: filepath.Join(userTLS, "client.crt"), TLSKey: filepath.Join(userTLS, "client.key")})
	if err != nil {
		return nil, fmt.Errorf("%s: operations TLS: %w", node.Name, err)
	}
	return &opsClient{
		base: "https://" + node.AddrOf(node.OpsPort()),
		hc:   &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{TLSClientConfig: cfg}},
	}, nil
}

func (c *opsClient) get(ctx context.Context, path string) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.base+path, nil)
	if err != nil {
		return nil, err
	}
	return c.hc.Do(req)
}

func (c *opsClient) healthy(ctx context.Context) error {
	resp, err := c.get(ctx, "/healthz")
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("healthz: %s", resp.Status)
	}
	return nil
}

// metric reads one series from the node's Prometheus metrics, e.g. the
// peer's ledger height, without an admin identity or a CLI process.
func (c *opsClient) metric(ctx context.Context, series string) (float64, error) {
	resp, err := c.get(ctx, "/metrics")
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), series+" "); ok {
			return strconv.ParseFloat(strings.TrimSpace(rest), 64)
		}
	}
	if err := sc.Err(); err != nil {
		return 0, err
	}
	return 0, fmt.Errorf("metric %s not reported", series)
}

// peerHeight is the peer's ledger height on the channel.
func (c *opsClient) peerHeight(ctx context.Context) (uint64, error) {
	v, err := c.metric(ctx, `ledger_blockchain_height{channel="`+topology.Channel+`"}`)
	if err != nil {
		return 0, fmt.Errorf("peer has not joined %s: %w", topology.Channel, err)
	}
	return uint64(v), nil
}

// ordererChannel is the channel participation API's view of one channel.
type ordererChannel struct {
	Name              string `json:"name"`
	Status            string `json:"status"`
	ConsensusRelation string `json:"consensusRelation"`
	Height            uint64 `json:"height"`
}

// osnadminArgs are the flags that reach an orderer's admin endpoint as the
// orderer org's admin, with mutual TLS.
func (n *Network) osnadminArgs(o topology.Node) []string {
	userTLS := n.Layout.UserTLSDir(topology.OrdererOrg, "Admin")
	return []string{"-o", o.AddrOf(o.AdminPort()),
		"--ca-file", n.Layout.TLSCACert(topology.OrdererOrg),
		"--client-cert", filepath.Join(userTLS, "client.crt"),
		"--client-key", filepath.Join(userTLS, "client.key")}
}

// ordererInfo asks an orderer for its view of the channel.
func (n *Network) ordererInfo(ctx context.Context, o topology.Node) (*ordererChannel, error) {
	args := append([]string{"channel", "list", "--channelID", topology.Channel}, n.osnadminArgs(o)...)
	out, err := n.run(ctx, n.baseEnv(), "osnadmin", args...)
	if err != nil {
		return nil, err
	}
	// osnadmin prints "Status: 200" then the JSON body.
	body := out
	if i := strings.IndexByte(string(out), '{'); i >= 0 {
		body = out[i:]
	}
	var ch ordererChannel
	if err := json.Unmarshal(body, &ch); err != nil {
		return nil, fmt.Errorf("%s: channel info: %w: %s", o.Name, err, out)
	}
	if ch.Name == "" {
		return nil, fmt.Errorf("%s has not joined %s: %s", o.Name, topology.Channel, strings.TrimSpace(string(out)))
	}
	return &ch, nil
}
