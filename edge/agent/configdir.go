package agent

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"meridian/rpc"
	"meridian/server/atomicfile"
)

// fileDef is a definition with where it came from.
type fileDef struct {
	def  rpc.ServiceDefinition
	file string
}

func (d fileDef) where() string {
	if d.file == "" {
		return "saved registration"
	}
	return d.file
}

// maxDefinitionBytes caps a definition file.
const maxDefinitionBytes = 1 << 20

// loadConfigDir reads every *.json file of dir ("" = none), in name order.
// Each holds one service definition ({"service": ..., "checks": [...]}),
// decoded strictly: an unknown field is an error naming the file and the
// field.
func loadConfigDir(dir string) ([]fileDef, error) {
	if dir == "" {
		return nil, nil
	}
	names, err := filepath.Glob(filepath.Join(dir, "*.json"))
	if err != nil {
		return nil, fmt.Errorf("agent: config dir %s: %w", dir, err)
	}
	if _, err := os.Stat(dir); err != nil {
		return nil, fmt.Errorf("agent: config dir: %w", err)
	}
	sort.Strings(names)
	var out []fileDef
	for _, name := range names {
		b, err := os.ReadFile(name)
		if err != nil {
			return nil, fmt.Errorf("agent: %w", err)
		}
		def, err := ParseDefinition(b)
		if err != nil {
			return nil, fmt.Errorf("agent: %s: %w", name, err)
		}
		out = append(out, fileDef{def: def, file: name})
	}
	return out, nil
}

// ParseDefinition decodes one service definition strictly.
func ParseDefinition(b []byte) (rpc.ServiceDefinition, error) {
	var def rpc.ServiceDefinition
	if len(b) > maxDefinitionBytes {
		return def, fmt.Errorf("%d bytes is over the limit of %d", len(b), maxDefinitionBytes)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&def); err != nil {
		return def, describeJSONError(b, err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return def, errors.New("more than one JSON value in the file")
	}
	return def, nil
}

// describeJSONError turns a decoding error into a message with the field
// or the line.
func describeJSONError(b []byte, err error) error {
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &se):
		line := 1 + bytes.Count(b[:min(int(se.Offset), len(b))], []byte("\n"))
		return fmt.Errorf("line %d: %v", line, se)
	case errors.As(err, &te):
		return fmt.Errorf("field %q: %s is not a valid %s", te.Field, te.Value, te.Type)
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		return fmt.Errorf("unknown field %s", strings.TrimPrefix(err.Error(), "json: unknown field "))
	}
	return err
}

// savedFile keeps the API registrations of the node across restarts.
const savedFile = "agent-services.json"

type saved struct {
	Definitions []rpc.ServiceDefinition `json:"definitions"`
}

func (a *Agent) loadSaved() ([]fileDef, error) {
	if a.cfg.DataDir == "" {
		return nil, nil
	}
	b, err := os.ReadFile(filepath.Join(a.cfg.DataDir, savedFile))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("agent: %w", err)
	}
	var s saved
	if err := json.Unmarshal(b, &s); err != nil {
		return nil, fmt.Errorf("agent: %s is corrupt: %v (move it away to start without the saved registrations)", filepath.Join(a.cfg.DataDir, savedFile), err)
	}
	out := make([]fileDef, len(s.Definitions))
	for i, d := range s.Definitions {
		out[i] = fileDef{def: d}
	}
	return out, nil
}

// save writes the API registrations, atomically. Called with a.mu held.
func (a *Agent) saveLocked() error {
	if a.cfg.DataDir == "" {
		return nil
	}
	var s saved
	for _, svc := range a.services {
		if svc.fromFile != "" {
			continue
		}
		d := rpc.ServiceDefinition{Service: &svc.svc}
		for _, c := range a.checks {
			if c.def.ServiceID == svc.svc.ID {
				d.Checks = append(d.Checks, c.def)
			}
		}
		s.Definitions = append(s.Definitions, d)
	}
	var node rpc.ServiceDefinition
	for _, c := range a.checks {
		if c.def.ServiceID == "" && c.fromFile == "" {
			node.Checks = append(node.Checks, c.def)
		}
	}
	if len(node.Checks) > 0 {
		s.Definitions = append(s.Definitions, node)
	}
	for _, d := range s.Definitions {
		sort.Slice(d.Checks, func(i, j int) bool { return d.Checks[i].ID < d.Checks[j].ID })
	}
	sort.Slice(s.Definitions, func(i, j int) bool { return defKey(s.Definitions[i]) < defKey(s.Definitions[j]) })
	b, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return err
	}
	if err := os.MkdirAll(a.cfg.DataDir, 0o755); err != nil {
		return err
	}
	path := filepath.Join(a.cfg.DataDir, savedFile)
	return atomicfile.Write(path, b, 0o644)
}

func defKey(d rpc.ServiceDefinition) string {
	if d.Service == nil {
		return "\xff"
	}
	return d.Service.ID
}
