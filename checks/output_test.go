package checks

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func TestCapOutput(t *testing.T) {
	cases := []struct {
		name string
		in   string
		max  int
		want string
	}{
		{"short kept", "ok", 128, "ok"},
		{"exactly max kept", strings.Repeat("a", 128), 128, strings.Repeat("a", 128)},
		{"long cut with a note", strings.Repeat("a", 200), 128,
			strings.Repeat("a", 128-len(" ... (output truncated to 128 bytes)")) + " ... (output truncated to 128 bytes)"},
		{"invalid UTF-8 replaced", "a\xffb", 128, "a\uFFFDb"},
		{"cut before a split rune", strings.Repeat("é", 100), 129, // the cut falls inside a rune
			strings.Repeat("é", 46) + " ... (output truncated to 129 bytes)"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := capOutput(tc.in, tc.max)
			if got != tc.want {
				t.Fatalf("got %q, want %q", got, tc.want)
			}
			if len(got) > tc.max || !utf8.ValidString(got) {
				t.Fatalf("%d bytes, valid UTF-8 %v", len(got), utf8.ValidString(got))
			}
		})
	}
}
