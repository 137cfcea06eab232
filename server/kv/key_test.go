package kv

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestValidateKey(t *testing.T) {
	tests := []struct {
		name    string
		key     string
		wantErr string // "" = valid
	}{
		{"ok", "app/web/config", ""},
		{"one byte", "a", ""},
		{"max length", strings.Repeat("k", MaxKeyLen), ""},
		{"trailing slash", "a/", ""},
		{"inner slashes", "a//b", ""},
		{"unicode", "日本/語/ключ", ""},
		{"replacement char is valid UTF-8", "a\uFFFDb", ""},
		{"empty", "", "kv: invalid key: empty"},
		{"1025 bytes", strings.Repeat("k", MaxKeyLen+1), "kv: invalid key: 1025 bytes, max 1024"},
		{"invalid UTF-8", "ab\xffc", "kv: invalid key: not valid UTF-8 at offset 2"},
		{"truncated rune", "ab\xe6\x97", "kv: invalid key: not valid UTF-8 at offset 2"},
		{"leading slash", "/a", "kv: invalid key: leading '/'"},
		{"only a slash", "/", "kv: invalid key: leading '/'"},
		{"NUL", "a\x00b", "kv: invalid key: NUL byte at offset 1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := ValidateKey(tt.key)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("ValidateKey: %v", err)
				}
				return
			}
			if err == nil || err.Error() != tt.wantErr {
				t.Fatalf("ValidateKey = %v, want %q", err, tt.wantErr)
			}
			if !errors.Is(err, ErrInvalidKey) {
				t.Errorf("%v is not ErrInvalidKey", err)
			}
		})
	}
}

func TestValidateKeyGolden(t *testing.T) {
	seeds := map[string]string{
		"ok": "app/web/config", "unicode": "日本/語", "empty": "", "leading-slash": "/a",
		"nul": "a\x00b", "invalid-utf8": "ab\xffc", "max": strings.Repeat("k", MaxKeyLen),
		"too-long": strings.Repeat("k", MaxKeyLen+1),
	}
	for name, key := range seeds {
		checkSeed(t, "FuzzValidateKey", name, fmt.Sprintf("string(%q)", key))
	}
}

func FuzzValidateKey(f *testing.F) {
	for _, s := range []string{"a", "a/b", "/a", "", "a\x00", "\xff", strings.Repeat("x", 1025)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, key string) {
		err := ValidateKey(key)
		valid := key != "" && len(key) <= MaxKeyLen && key[0] != '/' &&
			!strings.ContainsRune(key, 0) && utf8.ValidString(key)
		if (err == nil) != valid {
			t.Fatalf("ValidateKey(%q) = %v, valid by the rules: %v", key, err, valid)
		}
		if err != nil && !errors.Is(err, ErrInvalidKey) {
			t.Fatalf("%v is not ErrInvalidKey", err)
		}
	})
}
