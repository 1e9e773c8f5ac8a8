package proof

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"testing"
)

func hd(s string) []byte {
	b, err := hex.DecodeString(s)
	if err != nil {
		panic(err)
	}
	return b
}

// rfcInputs and rfcRoots are the RFC 6962 test vectors of Certificate
// Transparency (certificate-transparency-go and transparency-dev/merkle
// testonly): the leaf inputs and the tree head of each prefix size 1..8.
var rfcInputs = [][]byte{hd(""), hd("00"), hd("10"), hd("2021"), hd("3031"), hd("40414243"),
	hd("5051525354555657"), hd("606162636465666768696a6b6c6d6e6f")}

var rfcRoots = []string{
	"6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
	"fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
	"aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
	"d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
	"4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
	"76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
	"ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
	"5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
}

// TestKnownAnswers: leaf and node hashing and the tree heads of sizes 1..8
// are RFC 6962's, and so is one audit path (leaf 0 of 8: its sibling leaf,
// then the right nodes of levels 1 and 2).
func TestKnownAnswers(t *testing.T) {
	if got := hex.EncodeToString(LeafHash(nil)); got != "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d" {
		t.Fatalf("leaf hash of empty input = %s", got)
	}
	var leaves [][]byte
	for i, in := range rfcInputs {
		leaves = append(leaves, LeafHash(in))
		tree, err := NewTree(leaves)
		if err != nil {
			t.Fatal(err)
		}
		if got := hex.EncodeToString(tree.Root()); got != rfcRoots[i] {
			t.Fatalf("root of %d leaves = %s, want %s", i+1, got, rfcRoots[i])
		}
	}
	tree, _ := NewTree(leaves)
	path, err := tree.Path(0)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
		"5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
		"6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"}
	if got := Hex(path); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("path of leaf 0 of 8 = %v, want %v", got, want)
	}
}

// mth is RFC 6962's definition of the tree head, written out as the RFC
// states it (split at the largest power of two below n), for comparison.
func mth(leaves [][]byte) []byte {
	if len(leaves) == 1 {
		return leaves[0]
	}
	k := 1
	for k*2 < len(leaves) {
		k *= 2
	}
	h := sha256.New()
	h.Write([]byte{1})
	h.Write(mth(leaves[:k]))
	h.Write(mth(leaves[k:]))
	return h.Sum(nil)
}

// TestEveryTreeSize: for every size 1..70 the root is the RFC's, every
// leaf's path verifies, and a changed leaf, a changed or shortened path, a
// wrong index and a changed root each fail.
func TestEveryTreeSize(t *testing.T) {
	for n := 1; n <= 70; n++ {
		leaves := make([][]byte, n)
		for i := range leaves {
			leaves[i] = LeafHash(fmt.Appendf(nil, `{"v":1,"seq":%d}`, i))
		}
		tree, err := NewTree(leaves)
		if err != nil {
			t.Fatal(err)
		}
		root := tree.Root()
		if !bytes.Equal(root, mth(leaves)) {
			t.Fatalf("size %d: root differs from RFC 6962's definition", n)
		}
		for i := 0; i < n; i++ {
			path, err := tree.Path(i)
			if err != nil {
				t.Fatalf("size %d leaf %d: %v", n, i, err)
			}
			if err := VerifyInclusion(leaves[i], uint64(i), uint64(n), path, root); err != nil {
				t.Fatalf("size %d leaf %d: %v", n, i, err)
			}
			bad := LeafHash([]byte("tampered"))
			if VerifyInclusion(bad, uint64(i), uint64(n), path, root) == nil {
				t.Fatalf("size %d leaf %d: a tampered leaf verified", n, i)
			}
			badRoot := bytes.Clone(root)
			badRoot[0] ^= 1
			if VerifyInclusion(leaves[i], uint64(i), uint64(n), path, badRoot) == nil {
				t.Fatalf("size %d leaf %d: a tampered root verified", n, i)
			}
			if n > 1 {
				for j := range path {
					p := make([][]byte, len(path))
					copy(p, path)
					p[j] = bytes.Clone(p[j])
					p[j][31] ^= 0x80
					if VerifyInclusion(leaves[i], uint64(i), uint64(n), p, root) == nil {
						t.Fatalf("size %d leaf %d: path with node %d changed verified", n, i, j)
					}
				}
				if VerifyInclusion(leaves[i], uint64(i), uint64(n), path[:len(path)-1], root) == nil {
					t.Fatalf("size %d leaf %d: a shortened path verified", n, i)
				}
				if VerifyInclusion(leaves[i], uint64((i+1)%n), uint64(n), path, root) == nil && !bytes.Equal(leaves[i], leaves[(i+1)%n]) {
					t.Fatalf("size %d leaf %d: verified at index %d", n, i, (i+1)%n)
				}
			}
			// (The size is not always bound by the path alone: leaf 0 of 3
			// has the path it would have in a tree of 4. The verifier
			// takes the size from the ledger's anchor.)
		}
		if _, err := tree.Path(n); err == nil {
			t.Fatalf("size %d: path of a leaf past the end", n)
		}
	}
	if _, err := NewTree(nil); err == nil {
		t.Fatal("empty tree built")
	}
}

// TestLeafIsDomainSeparated: a leaf hash is not an interior node's hash of
// the same bytes (the 0x00/0x01 prefixes), so an interior node cannot be
// passed off as a record.
func TestLeafIsDomainSeparated(t *testing.T) {
	a, b := LeafHash([]byte("a")), LeafHash([]byte("b"))
	tree, _ := NewTree([][]byte{a, b})
	if bytes.Equal(LeafHash(append(bytes.Clone(a), b...)), tree.Root()) {
		t.Fatal("leaf hash of two concatenated hashes equals their parent")
	}
	sum := sha256.Sum256([]byte("a"))
	if bytes.Equal(a, sum[:]) {
		t.Fatal("leaf hash is plain SHA-256")
	}
}
