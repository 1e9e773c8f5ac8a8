package localnet

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/shiptrace/shiptrace/local/topology"
)

// A channel configuration change, as every Fabric consortium makes one:
// fetch the latest configuration block from an orderer, decode it
// (configtxlator), change the decoded configuration, compute the update
// between the two, and wrap it in an envelope, which the admins whose
// signatures the changed part's modification policy asks for then sign and
// one of them submits (`peer channel signconfigtx`, `peer channel update`).

// fetchConfig fetches the channel's latest configuration block from an
// orderer with the peer CLI environment env (an organisation admin's, on
// the host of node), into work. It returns the decoded configuration as
// JSON objects, the same configuration as raw JSON (the original of an
// update) and the block's number.
func (n *Network) fetchConfig(ctx context.Context, env []string, node topology.Node, work string) (map[string]any, []byte, uint64, error) {
	f := func(name string) string { return filepath.Join(work, name) }
	fetch := append([]string{"channel", "fetch", "config", f("config_block.pb"), "-c", topology.Channel}, n.ordererClientArgs(node)...)
	if err := retry(ctx, 30*time.Second, func(ctx context.Context) error {
		_, err := n.run(ctx, env, "peer", fetch...)
		return err
	}); err != nil {
		return nil, nil, 0, err
	}
	blockJSON, err := n.run(ctx, env, "configtxlator", "proto_decode", "--input", f("config_block.pb"), "--type", "common.Block")
	if err != nil {
		return nil, nil, 0, err
	}
	var block struct {
		Header struct {
			Number string `json:"number"`
		} `json:"header"`
		Data struct {
			Data []struct {
				Payload struct {
					Data struct {
						Config json.RawMessage `json:"config"`
					} `json:"data"`
				} `json:"payload"`
			} `json:"data"`
		} `json:"data"`
	}
	if err := json.Unmarshal(blockJSON, &block); err != nil || len(block.Data.Data) == 0 {
		return nil, nil, 0, fmt.Errorf("decode config block: %v", err)
	}
	number, _ := strconv.ParseUint(block.Header.Number, 10, 64) // "0" is omitted for the genesis block
	original := block.Data.Data[0].Payload.Data.Config
	var cfg map[string]any
	if err := json.Unmarshal(original, &cfg); err != nil {
		return nil, nil, 0, err
	}
	return cfg, original, number, nil
}

// configUpdate computes the update from the original configuration to
// modified and writes it, wrapped in an unsigned envelope, to
// work/envelope.pb, whose path it returns.
func (n *Network) configUpdate(ctx context.Context, env []string, work string, original []byte, modified map[string]any) (string, error) {
	f := func(name string) string { return filepath.Join(work, name) }
	changed, err := json.Marshal(modified)
	if err != nil {
		return "", err
	}
	if err := os.WriteFile(f("original.json"), original, 0o600); err != nil {
		return "", err
	}
	if err := os.WriteFile(f("modified.json"), changed, 0o600); err != nil {
		return "", err
	}
	steps := [][]string{
		{"proto_encode", "--input", f("original.json"), "--type", "common.Config", "--output", f("original.pb")},
		{"proto_encode", "--input", f("modified.json"), "--type", "common.Config", "--output", f("modified.pb")},
		{"compute_update", "--channel_id", topology.Channel, "--original", f("original.pb"), "--updated", f("modified.pb"), "--output", f("update.pb")},
	}
	for _, s := range steps {
		if _, err := n.run(ctx, env, "configtxlator", s...); err != nil {
			return "", err
		}
	}
	updateJSON, err := n.run(ctx, env, "configtxlator", "proto_decode", "--input", f("update.pb"), "--type", "common.ConfigUpdate")
	if err != nil {
		return "", err
	}
	envelope := fmt.Sprintf(`{"payload":{"header":{"channel_header":{"channel_id":%q,"type":2}},"data":{"config_update":%s}}}`, topology.Channel, updateJSON)
	if err := os.WriteFile(f("envelope.json"), []byte(envelope), 0o600); err != nil {
		return "", err
	}
	if _, err := n.run(ctx, env, "configtxlator", "proto_encode", "--input", f("envelope.json"), "--type", "common.Envelope", "--output", f("envelope.pb")); err != nil {
		return "", err
	}
	return f("envelope.pb"), nil
}
