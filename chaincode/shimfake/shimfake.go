// Package shimfake is an in-memory Fabric ledger for contract tests: a
// hand-written shim.ChaincodeStubInterface with Fabric's semantics where the
// contract depends on them. Reads see committed state only (not the
// transaction's own writes), writes are applied only when the chaincode
// returns success, composite keys are hidden from range queries, history is
// kept per key, and the last SetEvent of a transaction wins.
package shimfake

import (
	"crypto/sha256"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/hyperledger/fabric-chaincode-go/v2/shim"
	"github.com/hyperledger/fabric-protos-go-apiv2/ledger/queryresult"
	"github.com/hyperledger/fabric-protos-go-apiv2/peer"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// Event is a chaincode event set by a committed transaction.
type Event struct {
	TxID    string
	Name    string
	Payload []byte
}

type version struct {
	txID    string
	at      time.Time
	value   []byte
	deleted bool
}

// Ledger is the committed state shared by successive transactions.
type Ledger struct {
	state      map[string][]byte
	history    map[string][]version
	private    map[string]map[string][]byte
	purged     map[string]map[string]bool
	validation map[string][]byte
	events     []Event
	txCount    int
}

// New returns an empty ledger.
func New() *Ledger {
	return &Ledger{
		state: map[string][]byte{}, history: map[string][]version{},
		private: map[string]map[string][]byte{}, purged: map[string]map[string]bool{},
		validation: map[string][]byte{},
	}
}

// Tx describes one transaction proposal.
type Tx struct {
	Creator   []byte            // serialized identity (msp.SerializedIdentity)
	Time      time.Time         // transaction timestamp
	Transient map[string][]byte // transient map
	Args      []string          // function name and arguments
}

// Result is what the chaincode returned and what the transaction wrote.
type Result struct {
	Response *peer.Response
	Event    *Event
	Writes   []string // keys written (public), in write order
	Stub     *Stub
}

// Endorse runs tx against cc on the committed state without committing it,
// as a peer endorses: several endorsements on the same state, then
// CommitBlock, model transactions that meet in one block.
func (l *Ledger) Endorse(cc shim.Chaincode, tx Tx) Result {
	l.txCount++
	s := l.newStub(tx)
	resp := cc.Invoke(s)
	return Result{Response: resp, Stub: s, Writes: slices.Clone(s.writeOrder)}
}

// CommitBlock validates endorsed transactions in block order the way
// Fabric's committer does for public state (MVCC): a transaction is invalid
// when a key it read, or a key inside a range it read, was written (value
// or key-level policy) by an earlier valid transaction of the block. Valid
// ones are committed; it reports which were valid.
func (l *Ledger) CommitBlock(results ...Result) []bool {
	valid := make([]bool, len(results))
	written := map[string]bool{}
	for i, r := range results {
		if r.Response.GetStatus() != shim.OK {
			continue
		}
		s := r.Stub
		ok := true
		for _, k := range s.reads {
			if written[k] {
				ok = false
			}
		}
		for _, rg := range s.ranges {
			for k := range written {
				if k >= rg[0] && k < rg[1] {
					ok = false
				}
			}
		}
		if !ok {
			continue
		}
		valid[i] = true
		s.commit()
		for _, k := range s.writeOrder {
			written[k] = true
		}
		for k := range s.validationWrites {
			written[k] = true
		}
		if s.event != nil {
			l.events = append(l.events, *s.event)
		}
	}
	return valid
}

// Invoke runs tx against cc and commits its writes when it succeeds.
func (l *Ledger) Invoke(cc shim.Chaincode, tx Tx) Result {
	l.txCount++
	s := l.newStub(tx)
	resp := cc.Invoke(s)
	res := Result{Response: resp, Stub: s, Writes: slices.Clone(s.writeOrder)}
	if resp.GetStatus() != shim.OK {
		return res
	}
	s.commit()
	if s.event != nil {
		l.events = append(l.events, *s.event)
		ev := *s.event
		res.Event = &ev
	}
	return res
}

func (l *Ledger) newStub(tx Tx) *Stub {
	return &Stub{
		ledger: l, tx: tx, txID: fmt.Sprintf("tx%06d", l.txCount),
		writes: map[string]*[]byte{}, privWrites: map[string]map[string]*[]byte{},
		validationWrites: map[string][]byte{}, purges: map[string][]string{},
	}
}

// Events returns every committed event in order.
func (l *Ledger) Events() []Event { return slices.Clone(l.events) }

// Forge commits a public value outside the contract: what two colluding
// members, whose peers satisfy the chaincode-level policy, could write to
// a key that has no key-level policy yet by endorsing other code. Trust
// tests use it to check that the contract does not take such a key for
// its own.
func (l *Ledger) Forge(key string, value []byte) { l.state[key] = value }

// State returns a committed public value.
func (l *Ledger) State(key string) []byte { return l.state[key] }

// Keys returns every committed public key, sorted.
func (l *Ledger) Keys() []string {
	keys := make([]string, 0, len(l.state))
	for k := range l.state {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// ValidationParameter returns the key-level endorsement policy of key.
func (l *Ledger) ValidationParameter(key string) []byte { return l.validation[key] }

// PrivateData returns a committed private value.
func (l *Ledger) PrivateData(collection, key string) []byte { return l.private[collection][key] }

// Purged reports whether a private key was purged.
func (l *Ledger) Purged(collection, key string) bool { return l.purged[collection][key] }

// Stub is the fake stub of one transaction.
type Stub struct {
	shim.ChaincodeStubInterface // unimplemented methods panic

	ledger           *Ledger
	tx               Tx
	txID             string
	writes           map[string]*[]byte
	writeOrder       []string
	privWrites       map[string]map[string]*[]byte
	validationWrites map[string][]byte
	purges           map[string][]string
	event            *Event
	reads            []string    // public keys read (the read set)
	ranges           [][2]string // public key ranges read [start, end)
	// RangeQueries counts range and partial-key queries, and ScannedKeys the
	// keys they returned, for cost tests.
	RangeQueries int
	ScannedKeys  int
	// HistoryReads counts the history entries the transaction read: on a
	// peer each is a read from the block store.
	HistoryReads int
	// SetEventCalls counts SetEvent calls: Fabric keeps only the last one.
	SetEventCalls int
}

func (s *Stub) commit() {
	l := s.ledger
	for _, k := range s.writeOrder {
		v := s.writes[k]
		if v == nil {
			delete(l.state, k)
			l.history[k] = append(l.history[k], version{txID: s.txID, at: s.tx.Time, deleted: true})
			continue
		}
		l.state[k] = *v
		l.history[k] = append(l.history[k], version{txID: s.txID, at: s.tx.Time, value: *v})
	}
	for k, v := range s.validationWrites {
		l.validation[k] = v
	}
	for coll, kv := range s.privWrites {
		if l.private[coll] == nil {
			l.private[coll] = map[string][]byte{}
		}
		for k, v := range kv {
			if v == nil {
				delete(l.private[coll], k)
			} else {
				l.private[coll][k] = *v
			}
		}
	}
	for coll, keys := range s.purges {
		if l.purged[coll] == nil {
			l.purged[coll] = map[string]bool{}
		}
		for _, k := range keys {
			delete(l.private[coll], k)
			l.purged[coll][k] = true
		}
	}
}

func (s *Stub) GetArgs() [][]byte {
	out := make([][]byte, len(s.tx.Args))
	for i, a := range s.tx.Args {
		out[i] = []byte(a)
	}
	return out
}
func (s *Stub) GetStringArgs() []string { return slices.Clone(s.tx.Args) }
func (s *Stub) GetFunctionAndParameters() (string, []string) {
	if len(s.tx.Args) == 0 {
		return "", nil
	}
	return s.tx.Args[0], slices.Clone(s.tx.Args[1:])
}
func (s *Stub) GetTxID() string                          { return s.txID }
func (s *Stub) GetChannelID() string                     { return "supplychain" }
func (s *Stub) GetCreator() ([]byte, error)              { return s.tx.Creator, nil }
func (s *Stub) GetTransient() (map[string][]byte, error) { return s.tx.Transient, nil }
func (s *Stub) GetTxTimestamp() (*timestamppb.Timestamp, error) {
	return timestamppb.New(s.tx.Time), nil
}
func (s *Stub) GetSignedProposal() (*peer.SignedProposal, error) {
	sum := sha256.Sum256([]byte("signature of " + s.txID))
	return &peer.SignedProposal{Signature: sum[:]}, nil
}

func (s *Stub) SetEvent(name string, payload []byte) error {
	if name == "" {
		return fmt.Errorf("event name can not be empty string")
	}
	s.SetEventCalls++
	s.event = &Event{TxID: s.txID, Name: name, Payload: slices.Clone(payload)}
	return nil
}

func checkKey(key string) error {
	if key == "" {
		return fmt.Errorf("key must not be an empty string")
	}
	if !utf8.ValidString(key) {
		return fmt.Errorf("key %q is not valid UTF-8", key)
	}
	return nil
}

func (s *Stub) GetState(key string) ([]byte, error) {
	if err := checkKey(key); err != nil {
		return nil, err
	}
	s.reads = append(s.reads, key)
	return slices.Clone(s.ledger.state[key]), nil
}

func (s *Stub) PutState(key string, value []byte) error {
	if err := checkKey(key); err != nil {
		return err
	}
	if len(value) == 0 {
		return s.DelState(key)
	}
	v := slices.Clone(value)
	if _, ok := s.writes[key]; !ok {
		s.writeOrder = append(s.writeOrder, key)
	}
	s.writes[key] = &v
	return nil
}

func (s *Stub) DelState(key string) error {
	if err := checkKey(key); err != nil {
		return err
	}
	if _, ok := s.writes[key]; !ok {
		s.writeOrder = append(s.writeOrder, key)
	}
	s.writes[key] = nil
	return nil
}

func (s *Stub) SetStateValidationParameter(key string, ep []byte) error {
	s.validationWrites[key] = slices.Clone(ep)
	return nil
}

func (s *Stub) GetStateValidationParameter(key string) ([]byte, error) {
	return s.ledger.validation[key], nil
}

// CreateCompositeKey and SplitCompositeKey follow the shim's encoding.
func (s *Stub) CreateCompositeKey(objectType string, attributes []string) (string, error) {
	return shim.CreateCompositeKey(objectType, attributes)
}

func (s *Stub) SplitCompositeKey(key string) (string, []string, error) {
	if !strings.HasPrefix(key, "\x00") {
		return "", nil, fmt.Errorf("not a composite key")
	}
	parts := strings.Split(key[1:], "\x00")
	if len(parts) < 2 {
		return "", nil, fmt.Errorf("not a composite key")
	}
	return parts[0], parts[1 : len(parts)-1], nil
}

// iterator serves a snapshot of sorted key-value pairs.
type iterator struct {
	kvs []*queryresult.KV
	i   int
}

func (it *iterator) HasNext() bool { return it.i < len(it.kvs) }
func (it *iterator) Next() (*queryresult.KV, error) {
	if !it.HasNext() {
		return nil, fmt.Errorf("no more results")
	}
	it.i++
	return it.kvs[it.i-1], nil
}
func (it *iterator) Close() error { return nil }

func (s *Stub) scan(start, end string, limit int, after string) ([]*queryresult.KV, string) {
	var keys []string
	for k := range s.ledger.state {
		if k >= start && (end == "" || k < end) && (after == "" || k >= after) {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	next := ""
	if limit > 0 && len(keys) > limit {
		next = keys[limit]
		keys = keys[:limit]
	}
	kvs := make([]*queryresult.KV, len(keys))
	for i, k := range keys {
		kvs[i] = &queryresult.KV{Namespace: "shiptrace", Key: k, Value: slices.Clone(s.ledger.state[k])}
	}
	return kvs, next
}

func (s *Stub) GetStateByRange(startKey, endKey string) (shim.StateQueryIteratorInterface, error) {
	for _, k := range []string{startKey, endKey} {
		if strings.HasPrefix(k, "\x00") {
			return nil, fmt.Errorf("first character of the key [%s] contains a null character which is not allowed", k)
		}
	}
	if startKey == "" {
		startKey = "\x01"
	}
	s.RangeQueries++
	s.ranges = append(s.ranges, [2]string{startKey, endKey})
	kvs, _ := s.scan(startKey, endKey, 0, "")
	s.ScannedKeys += len(kvs)
	return &iterator{kvs: kvs}, nil
}

const maxRune = string(utf8.MaxRune)

func (s *Stub) GetStateByPartialCompositeKey(objectType string, keys []string) (shim.StateQueryIteratorInterface, error) {
	prefix, err := shim.CreateCompositeKey(objectType, keys)
	if err != nil {
		return nil, err
	}
	s.RangeQueries++
	s.ranges = append(s.ranges, [2]string{prefix, prefix + maxRune})
	kvs, _ := s.scan(prefix, prefix+maxRune, 0, "")
	return &iterator{kvs: kvs}, nil
}

// GetStateByPartialCompositeKeyWithPagination returns pageSize results from
// bookmark (a key); the bookmark it returns is the next key, empty at the end.
func (s *Stub) GetStateByPartialCompositeKeyWithPagination(objectType string, keys []string, pageSize int32, bookmark string) (shim.StateQueryIteratorInterface, *peer.QueryResponseMetadata, error) {
	prefix, err := shim.CreateCompositeKey(objectType, keys)
	if err != nil {
		return nil, nil, err
	}
	if bookmark != "" && !strings.HasPrefix(bookmark, prefix) {
		return nil, nil, fmt.Errorf("bookmark %q does not belong to this query", bookmark)
	}
	s.RangeQueries++
	s.ranges = append(s.ranges, [2]string{prefix, prefix + maxRune})
	kvs, next := s.scan(prefix, prefix+maxRune, int(pageSize), bookmark)
	return &iterator{kvs: kvs}, &peer.QueryResponseMetadata{FetchedRecordsCount: int32(len(kvs)), Bookmark: next}, nil
}

type historyIterator struct {
	mods  []*queryresult.KeyModification
	i     int
	reads *int
}

func (it *historyIterator) HasNext() bool { return it.i < len(it.mods) }
func (it *historyIterator) Next() (*queryresult.KeyModification, error) {
	if !it.HasNext() {
		return nil, fmt.Errorf("no more results")
	}
	it.i++
	*it.reads++
	return it.mods[it.i-1], nil
}
func (it *historyIterator) Close() error { return nil }

// GetHistoryForKey returns the newest change first, as Fabric 2.x does.
func (s *Stub) GetHistoryForKey(key string) (shim.HistoryQueryIteratorInterface, error) {
	vs := s.ledger.history[key]
	mods := make([]*queryresult.KeyModification, 0, len(vs))
	for i := len(vs) - 1; i >= 0; i-- {
		v := vs[i]
		mods = append(mods, &queryresult.KeyModification{TxId: v.txID, Value: v.value, Timestamp: timestamppb.New(v.at), IsDelete: v.deleted})
	}
	return &historyIterator{mods: mods, reads: &s.HistoryReads}, nil
}

func (s *Stub) GetPrivateData(collection, key string) ([]byte, error) {
	return slices.Clone(s.ledger.private[collection][key]), nil
}

func (s *Stub) GetPrivateDataHash(collection, key string) ([]byte, error) {
	v, ok := s.ledger.private[collection][key]
	if !ok {
		return nil, nil
	}
	sum := sha256.Sum256(v)
	return sum[:], nil
}

func (s *Stub) privWrite(collection, key string, v *[]byte) {
	if s.privWrites[collection] == nil {
		s.privWrites[collection] = map[string]*[]byte{}
	}
	s.privWrites[collection][key] = v
}

func (s *Stub) PutPrivateData(collection, key string, value []byte) error {
	if err := checkKey(key); err != nil {
		return err
	}
	v := slices.Clone(value)
	s.privWrite(collection, key, &v)
	return nil
}

func (s *Stub) DelPrivateData(collection, key string) error {
	s.privWrite(collection, key, nil)
	return nil
}

func (s *Stub) PurgePrivateData(collection, key string) error {
	s.purges[collection] = append(s.purges[collection], key)
	return nil
}

// PrivateWrites lists the collections this transaction wrote to, sorted.
func (s *Stub) PrivateWrites() []string {
	var out []string
	for c := range s.privWrites {
		out = append(out, c)
	}
	for c := range s.purges {
		if !slices.Contains(out, c) {
			out = append(out, c)
		}
	}
	sort.Strings(out)
	return out
}
