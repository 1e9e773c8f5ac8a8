package notifier_test

import (
	"testing"

	"github.com/shiptrace/shiptrace/notifier"
)

func TestPhoneRefDependsOnTheKeyNotTheFormatting(t *testing.T) {
	a, err := notifier.NewRefKey([]byte("first-phone-reference-key-012345"))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := notifier.NewRefKey([]byte("second-phone-reference-key-01234"))
	if a.PhoneRef("+49 151 1234 5678") != a.PhoneRef("4915112345678") {
		t.Error("one number, two references")
	}
	if a.PhoneRef("+4915112345678") == b.PhoneRef("+4915112345678") {
		t.Error("the reference does not depend on the key: anyone can recompute it")
	}
	if a.Fingerprint() == b.Fingerprint() {
		t.Error("two keys, one fingerprint")
	}
	if _, err := notifier.NewRefKey([]byte("short")); err == nil {
		t.Error("a 5-byte key was accepted")
	}
}
