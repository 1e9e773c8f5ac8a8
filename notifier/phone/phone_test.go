package phone_test

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/shiptrace/shiptrace/notifier/phone"
)

func TestParseUsesTheNumberingPlan(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"spaces and punctuation are accepted", "+49 151 2345-6789", "+4915123456789"},
		{"a Brazilian mobile with the ninth digit", "+55 11 98765-4321", "+5511987654321"},
		{"an Argentine mobile", "+54 9 11 2345-6789", "+5491123456789"},
		// A regular expression of 7 to 15 digits accepts all of these.
		{"a Brazilian mobile without the ninth digit is no longer a number", "+551187654321", ""},
		{"an unassigned country code", "+99912345678", ""},
		{"no country code", "015112345678", ""},
		{"too short for its country", "+4915", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := phone.Parse(tt.in)
			if tt.want == "" {
				if !errors.Is(err, phone.ErrInvalid) {
					t.Fatalf("Parse = %q, %v; want ErrInvalid", got, err)
				}
				if strings.Contains(err.Error(), phone.Digits(tt.in)) {
					t.Errorf("error %q quotes the number", err)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("Parse = %q, %v; want %q", got, err, tt.want)
			}
		})
	}
}

func TestVariantsCoverTheWhatsAppIDForms(t *testing.T) {
	tests := []struct {
		in   string
		want []string
	}{
		{"+5511987654321", []string{"5511987654321", "551187654321"}},
		{"551187654321", []string{"551187654321", "5511987654321"}},
		{"+525512345678", []string{"525512345678", "5215512345678"}},
		{"5215512345678", []string{"5215512345678", "525512345678"}},
		{"+5491123456789", []string{"5491123456789", "541123456789"}},
		{"+4915112345678", []string{"4915112345678"}},
		{"+551133334444", []string{"551133334444"}}, // a São Paulo landline has no ninth digit
	}
	for _, tt := range tests {
		if got := phone.Variants(tt.in); !slices.Equal(got, tt.want) {
			t.Errorf("Variants(%s) = %v, want %v", tt.in, got, tt.want)
		}
	}
}
