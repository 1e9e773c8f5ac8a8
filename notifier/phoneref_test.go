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

func TestMessageRefIsKeyedAndApartFromPhoneRefs(t *testing.T) {
	a, _ := notifier.NewRefKey([]byte("first-phone-reference-key-012345"))
	b, _ := notifier.NewRefKey([]byte("second-phone-reference-key-01234"))
	id := "wamid.HBgNNDkxNTExMjM0NTY3OBUCABIYFDNB"
	if a.MessageRef(id) != a.MessageRef(id) || a.MessageRef(id) == a.MessageRef(id+"x") {
		t.Error("a message reference is not a function of the ID")
	}
	if a.MessageRef(id) == b.MessageRef(id) {
		t.Error("the message reference does not depend on the key")
	}
	if a.MessageRef("4915112345678") == a.PhoneRef("4915112345678") {
		t.Error("a message reference can be taken for a phone reference")
	}
}
