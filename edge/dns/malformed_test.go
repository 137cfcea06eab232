package dns

import (
	"encoding/binary"
	"net"
	"testing"
	"time"

	mdns "github.com/miekg/dns"
)

// rawUDP sends payload to addr over UDP, then a well-formed probe query,
// and returns the answer to payload (nil if none came before the probe's
// answer) after checking that the probe was answered: the server is alive.
func rawUDP(t *testing.T, addr string, payload []byte) *mdns.Msg {
	t.Helper()
	conn, err := net.Dial("udp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.Write(payload); err != nil {
		t.Fatal(err)
	}
	probe := new(mdns.Msg)
	probe.SetQuestion("probe.meridian.", mdns.TypeA)
	probe.Id = 0xbeef
	wire, _ := probe.Pack()
	if _, err := conn.Write(wire); err != nil {
		t.Fatal(err)
	}
	var answer *mdns.Msg
	conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	buf := make([]byte, 65535)
	for {
		n, err := conn.Read(buf)
		if err != nil {
			t.Fatalf("no answer to the probe after the bad packet: %v", err)
		}
		m := new(mdns.Msg)
		if err := m.Unpack(buf[:n]); err != nil {
			t.Fatalf("the server sent a malformed message: %v", err)
		}
		if m.Id == 0xbeef && len(m.Question) == 1 && m.Question[0].Name == "probe.meridian." {
			if answer != nil || len(payload) < 12 {
				return answer
			}
			// The answer to payload may come after the probe's.
			conn.SetReadDeadline(time.Now().Add(2 * time.Second))
			if n, err := conn.Read(buf); err == nil {
				answer = new(mdns.Msg)
				if err := answer.Unpack(buf[:n]); err != nil {
					t.Fatalf("the server sent a malformed message: %v", err)
				}
			}
			return answer
		}
		answer = m
	}
}

func packed(t *testing.T, m *mdns.Msg) []byte {
	t.Helper()
	b, err := m.Pack()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestMalformedAndUnusual(t *testing.T) {
	e := newEnv(t, nil)
	e.registerInstances(t, "web", 1)
	q := func(name string, qtype uint16) *mdns.Msg {
		m := new(mdns.Msg)
		m.SetQuestion(name, qtype)
		m.Id = 7
		return m
	}
	twoQuestions := q("web.service.meridian.", mdns.TypeA)
	twoQuestions.Question = append(twoQuestions.Question, twoQuestions.Question[0])
	noQuestion := q("web.service.meridian.", mdns.TypeA)
	noQuestion.Question = nil
	chaos := q("version.bind.", mdns.TypeTXT)
	chaos.Question[0].Qclass = mdns.ClassCHAOS
	chaosIn := q("web.service.meridian.", mdns.TypeA)
	chaosIn.Question[0].Qclass = mdns.ClassCHAOS
	anyClass := q("web.service.meridian.", mdns.TypeA)
	anyClass.Question[0].Qclass = mdns.ClassANY
	status := q("web.service.meridian.", mdns.TypeA)
	status.Opcode = mdns.OpcodeStatus
	notify := q("web.service.meridian.", mdns.TypeSOA)
	notify.Opcode = mdns.OpcodeNotify
	update := q("meridian.", mdns.TypeSOA)
	update.Opcode = mdns.OpcodeUpdate
	ednsV1 := q("web.service.meridian.", mdns.TypeA)
	ednsV1.SetEdns0(1232, false)
	ednsV1.IsEdns0().SetVersion(1)
	response := q("web.service.meridian.", mdns.TypeA)
	response.Response = true
	cut := packed(t, q("web.service.meridian.", mdns.TypeA))
	header := make([]byte, 12)
	binary.BigEndian.PutUint16(header, 7)
	binary.BigEndian.PutUint16(header[4:], 1) // one question, none there

	for _, tc := range []struct {
		name    string
		payload []byte
		rcode   int // -1: no answer
		answers int
	}{
		{"garbage shorter than a header: dropped", []byte{0xde, 0xad, 0xbe, 0xef, 1}, -1, 0},
		{"header cut at 11 bytes: dropped", cut[:11], -1, 0},
		{"question cut short: FORMERR", cut[:len(cut)-3], mdns.RcodeFormatError, 0},
		{"header announcing a missing question: FORMERR", header, mdns.RcodeFormatError, 0},
		{"two questions: FORMERR", packed(t, twoQuestions), mdns.RcodeFormatError, 0},
		{"no question: FORMERR", packed(t, noQuestion), mdns.RcodeFormatError, 0},
		{"class CHAOS: NOTIMP", packed(t, chaos), mdns.RcodeNotImplemented, 0},
		{"class CHAOS in our domain: NOTIMP", packed(t, chaosIn), mdns.RcodeNotImplemented, 0},
		{"class ANY: answered", packed(t, anyClass), mdns.RcodeSuccess, 1},
		{"opcode STATUS: NOTIMP", packed(t, status), mdns.RcodeNotImplemented, 0},
		{"opcode NOTIFY: NOTIMP", packed(t, notify), mdns.RcodeNotImplemented, 0},
		{"opcode UPDATE: NOTIMP", packed(t, update), mdns.RcodeNotImplemented, 0},
		{"EDNS0 version 1: BADVERS", packed(t, ednsV1), mdns.RcodeBadVers, 0},
		{"a response: ignored", packed(t, response), -1, 0},
		{"outside the domain, no recursor: REFUSED", packed(t, q("example.com.", mdns.TypeA)), mdns.RcodeRefused, 0},
		{"zone transfer: NOTIMP", packed(t, q("meridian.", mdns.TypeAXFR)), mdns.RcodeNotImplemented, 0},
		{"unknown type: NOERROR, no answer", packed(t, q("web.service.meridian.", 4242)), mdns.RcodeSuccess, 0},
		{"name like the domain: REFUSED", packed(t, q("xmeridian.", mdns.TypeA)), mdns.RcodeRefused, 0},
		{"escaped dot before the domain: REFUSED", packed(t, q(`web\.meridian.`, mdns.TypeA)), mdns.RcodeRefused, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := rawUDP(t, e.addr, tc.payload)
			if tc.rcode < 0 {
				if r != nil {
					t.Fatalf("answered %v, want no answer", r)
				}
				return
			}
			if r == nil {
				t.Fatalf("no answer, want %s", mdns.RcodeToString[tc.rcode])
			}
			if r.Rcode != tc.rcode || len(r.Answer) != tc.answers || !r.Response {
				t.Fatalf("rcode %s with %d answers, want %s with %d:\n%v", mdns.RcodeToString[r.Rcode], len(r.Answer),
					mdns.RcodeToString[tc.rcode], tc.answers, r)
			}
			if r.Id != 7 {
				t.Fatalf("id %d, want the query's 7", r.Id)
			}
		})
	}
	t.Run("TCP: a bad message, then a good one on the same connection", func(t *testing.T) {
		conn, err := mdns.Dial("tcp", e.addr)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		conn.SetDeadline(time.Now().Add(10 * time.Second))
		if err := conn.WriteMsg(twoQuestions); err != nil {
			t.Fatal(err)
		}
		r, err := conn.ReadMsg()
		if err != nil || r.Rcode != mdns.RcodeFormatError {
			t.Fatalf("two questions over TCP: %v, %v; want FORMERR", r, err)
		}
		if err := conn.WriteMsg(q("web.service.meridian.", mdns.TypeA)); err != nil {
			t.Fatal(err)
		}
		if r, err := conn.ReadMsg(); err != nil || len(r.Answer) != 1 {
			t.Fatalf("then a good query: %v, %v", r, err)
		}
	})
	s := e.srv.Stats()
	if s.FormErr < 4 || s.NotImp < 5 || s.Refused < 3 || s.Malformed < 3 {
		t.Fatalf("stats %+v: want every FORMERR, NOTIMP, REFUSED and malformed packet counted", s)
	}
}
