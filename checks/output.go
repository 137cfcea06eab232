package checks

import (
	"strconv"
	"strings"
	"unicode/utf8"
)

// capOutput makes s valid UTF-8 of at most max bytes: a longer s is cut on
// a rune boundary and ends with a note saying so. max is at least
// minMaxOutput (Config.Validate), so the note always fits.
func capOutput(s string, max int) string {
	if !utf8.ValidString(s) {
		s = strings.ToValidUTF8(s, "\uFFFD")
	}
	if len(s) <= max {
		return s
	}
	note := " ... (output truncated to " + strconv.Itoa(max) + " bytes)"
	cut := max - len(note)
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + note
}
