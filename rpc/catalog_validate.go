package rpc

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// Limits of catalog records. Requests past them are refused with an
// invalid-params error naming the field.
const (
	MaxNameBytes      = 256 // node names, service names and IDs, check IDs
	MaxTags           = 64
	MaxTagBytes       = 256
	MaxMetaPairs      = 64
	MaxMetaKeyBytes   = 128
	MaxMetaValueBytes = 512
	MaxCheckOutput    = 4096
	MaxServicesPerReq = 256
	MaxChecksPerReq   = 512
)

// ValidateName checks a node name, service name or ID, or check ID:
// 1..256 bytes of printable UTF-8 without "/" or NUL.
func ValidateName(field, s string) error {
	switch {
	case s == "":
		return InvalidParams("field %q: must not be empty", field)
	case len(s) > MaxNameBytes:
		return InvalidParams("field %q: %d bytes is over the limit of %d", field, len(s), MaxNameBytes)
	case !utf8.ValidString(s):
		return InvalidParams("field %q: not valid UTF-8", field)
	}
	for _, r := range s {
		if r < 0x20 || r == 0x7f || r == '/' {
			return InvalidParams("field %q: %q holds a control character or \"/\"", field, s)
		}
	}
	return nil
}

// ValidateMeta checks a meta map against the limits.
func ValidateMeta(field string, m map[string]string) error {
	if len(m) > MaxMetaPairs {
		return InvalidParams("field %q: %d pairs is over the limit of %d", field, len(m), MaxMetaPairs)
	}
	for k, v := range m {
		switch {
		case k == "" || len(k) > MaxMetaKeyBytes || !utf8.ValidString(k):
			return InvalidParams("field %q: key %q must be 1-%d bytes of UTF-8", field, k, MaxMetaKeyBytes)
		case len(v) > MaxMetaValueBytes || !utf8.ValidString(v):
			return InvalidParams("field %q: the value of %q must be at most %d bytes of UTF-8", field, k, MaxMetaValueBytes)
		}
	}
	return nil
}

// Normalize fills a service's defaults: ID from Name.
func (s *Service) Normalize() {
	if s.ID == "" {
		s.ID = s.Name
	}
}

// Validate checks a service definition; field names in errors are
// prefixed with prefix (e.g. "service" or "services[2]").
func (s *Service) Validate(prefix string) error {
	if err := ValidateName(prefix+".name", s.Name); err != nil {
		return err
	}
	if err := ValidateName(prefix+".id", s.ID); err != nil {
		return err
	}
	if s.Port < 0 || s.Port > 65535 {
		return InvalidParams("field %q: port %d is not 0-65535", prefix+".port", s.Port)
	}
	if len(s.Address) > MaxNameBytes {
		return InvalidParams("field %q: over %d bytes", prefix+".address", MaxNameBytes)
	}
	if len(s.Tags) > MaxTags {
		return InvalidParams("field %q: %d tags is over the limit of %d", prefix+".tags", len(s.Tags), MaxTags)
	}
	for i, t := range s.Tags {
		if t == "" || len(t) > MaxTagBytes || !utf8.ValidString(t) || strings.ContainsRune(t, 0) {
			return InvalidParams("field %q: tag %q must be 1-%d bytes of UTF-8", fmt.Sprintf("%s.tags[%d]", prefix, i), t, MaxTagBytes)
		}
	}
	return ValidateMeta(prefix+".meta", s.Meta)
}

// ValidStatus reports whether s is passing, warning or critical.
func ValidStatus(s string) bool {
	return s == HealthPassing || s == HealthWarning || s == HealthCritical
}
