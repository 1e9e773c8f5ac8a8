package localnet

import (
	"strings"
	"testing"
)

// TestChaincodeSlots: each new version's servers get a slot the running
// version does not use; once every slot had a label, the longest-replaced
// one is reused; a rollback to an installed label keeps its slot, and is
// refused where that slot is the running one's (the peer keeps the address
// it built at install).
func TestChaincodeSlots(t *testing.T) {
	st := &State{CCSlots: map[string]int{}}
	running := ""
	deploy := func(label string) (int, error) {
		id := label + ":hash"
		s, err := st.assignSlot(label, id, running)
		if err == nil {
			running = id
		}
		return s, err
	}
	for i, want := range []int{3, 7, 8, 9, 3, 7} {
		label := "shiptrace_1." + string(rune('0'+i))
		got, err := deploy(label)
		if err != nil || got != want {
			t.Fatalf("deploy %s: slot %d (%v), want %d", label, got, err, want)
		}
	}
	// Running 1.5 on +7; 1.3 still has +9: a rollback to it lands there.
	if got, err := deploy("shiptrace_1.3"); err != nil || got != 9 {
		t.Fatalf("rollback to 1.3: slot %d (%v), want 9", got, err)
	}
	// 1.5 (+7) is not running now; 1.4 has +3. Redeploy 1.3 unchanged: same
	// package, same slot, no new server.
	if got, err := deploy("shiptrace_1.3"); err != nil || got != 9 {
		t.Fatalf("1.3 again: slot %d (%v), want 9", got, err)
	}
	// 1.0 shares +3 with 1.4 (neither runs): a rollback to it takes +3,
	// where the peer's build for it still points.
	if got, err := deploy("shiptrace_1.0"); err != nil || got != 3 {
		t.Fatalf("rollback to 1.0: slot %d (%v), want 3", got, err)
	}
	// 1.4 now shares the running 1.0's slot: it cannot come back until
	// another version runs.
	if _, err := deploy("shiptrace_1.4"); err == nil {
		t.Fatal("1.4 on the running 1.0's slot was accepted")
	}
	// The same label with other code is refused.
	if _, err := st.assignSlot("shiptrace_1.0", "shiptrace_1.0:other", running); err == nil || !strings.Contains(err.Error(), "new version") {
		t.Fatalf("same label, other package: %v", err)
	}
	// A label whose slot the running version holds cannot come back.
	st2 := &State{CCSlots: map[string]int{"a": 3, "b": 7}, CCOrder: []string{"a", "b"}}
	if _, err := st2.assignSlot("b", "b:x", "c:y"); err != nil {
		t.Fatalf("b while c (+3 by default) runs: %v", err)
	}
	st2.CCSlots["c"] = 7
	if _, err := st2.assignSlot("b", "b:x", "c:y"); err == nil {
		t.Fatal("b on the running c's slot was accepted")
	}
}
