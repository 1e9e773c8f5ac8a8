// Package proof is the proof of notification: the status records a
// notifier keeps of its WhatsApp messages (record.go), the RFC 6962 Merkle
// tree a batch of them is hashed into before its root goes on the ledger
// (this file), and the proof a member is shown and checks (proof.go).
//
// The tree is the one of Certificate Transparency (RFC 6962 §2.1): leaf
// hash SHA-256(0x00 || record bytes), interior node SHA-256(0x01 || left ||
// right), the left subtree the largest power of two below the size. The
// hashing and the audit-path arithmetic come from
// github.com/transparency-dev/merkle, the library the Go checksum database
// and Trillian-based logs use; this file only keeps a batch's nodes in
// memory (a batch is at most shipment.MaxAnchorLeaves records) to answer
// path requests.
package proof

import (
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"

	"github.com/transparency-dev/merkle/compact"
	mproof "github.com/transparency-dev/merkle/proof"
	"github.com/transparency-dev/merkle/rfc6962"
)

var hasher = rfc6962.DefaultHasher

// LeafHash is the RFC 6962 leaf hash of a record's canonical bytes.
func LeafHash(record []byte) []byte { return hasher.HashLeaf(record) }

// Tree is the Merkle tree of one batch: every perfect subtree's hash, level
// by level (levels[0] are the leaf hashes).
type Tree struct {
	levels [][][]byte
	root   []byte
}

// NewTree builds the tree over leaf hashes (LeafHash of each record, in
// batch order). A batch has at least one record.
func NewTree(leaves [][]byte) (*Tree, error) {
	if len(leaves) == 0 {
		return nil, errors.New("a Merkle tree needs at least one leaf")
	}
	levels := [][][]byte{leaves}
	for cur := leaves; len(cur) > 1; {
		next := make([][]byte, 0, len(cur)/2)
		for i := 0; i+1 < len(cur); i += 2 {
			next = append(next, hasher.HashChildren(cur[i], cur[i+1]))
		}
		levels = append(levels, next)
		cur = next
	}
	f := compact.RangeFactory{Hash: hasher.HashChildren}
	r := f.NewEmptyRange(0)
	for _, l := range leaves {
		if err := r.Append(l, nil); err != nil {
			return nil, fmt.Errorf("merkle tree: %w", err)
		}
	}
	root, err := r.GetRootHash(nil)
	if err != nil {
		return nil, fmt.Errorf("merkle tree root: %w", err)
	}
	return &Tree{levels: levels, root: root}, nil
}

// Size is the number of leaves.
func (t *Tree) Size() int { return len(t.levels[0]) }

// Root is the tree head the ledger records.
func (t *Tree) Root() []byte { return bytes.Clone(t.root) }

// Path is the audit path of leaf index (RFC 6962 §2.1.1), lowest sibling
// first.
func (t *Tree) Path(index int) ([][]byte, error) {
	if index < 0 || index >= t.Size() {
		return nil, fmt.Errorf("leaf %d is not in a tree of %d", index, t.Size())
	}
	nodes, err := mproof.Inclusion(uint64(index), uint64(t.Size()))
	if err != nil {
		return nil, err
	}
	hashes := make([][]byte, len(nodes.IDs))
	for i, id := range nodes.IDs {
		hashes[i] = t.levels[id.Level][id.Index]
	}
	return nodes.Rehash(hashes, hasher.HashChildren)
}

// VerifyInclusion checks that a record with leafHash is leaf index of the
// tree of size leaves whose root is root, by the audit path.
func VerifyInclusion(leafHash []byte, index, size uint64, path [][]byte, root []byte) error {
	if size == 0 || index >= size {
		return fmt.Errorf("leaf %d is not in a tree of %d", index, size)
	}
	got, err := mproof.RootFromInclusionProof(hasher, index, size, leafHash, path)
	if err != nil {
		return fmt.Errorf("the audit path does not fit leaf %d of %d: %w", index, size, err)
	}
	if !bytes.Equal(got, root) {
		return fmt.Errorf("the record and its audit path lead to root %x, not to %x", got, root)
	}
	return nil
}

// Hex encodes hashes for JSON.
func Hex(hs [][]byte) []string {
	out := make([]string, len(hs))
	for i, h := range hs {
		out[i] = hex.EncodeToString(h)
	}
	return out
}

// Unhex decodes hex hashes of 32 bytes.
func Unhex(ss []string) ([][]byte, error) {
	out := make([][]byte, len(ss))
	for i, s := range ss {
		b, err := hex.DecodeString(s)
		if err != nil || len(b) != 32 {
			return nil, fmt.Errorf("hash %d (%q) is not 64 hex digits", i, s)
		}
		out[i] = b
	}
	return out, nil
}
