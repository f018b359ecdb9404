package corpus

import (
	"bytes"
	"strings"
	"testing"
)

const good = `{"direction":"mt","peer":"acme","peer_class":"a2p","sender":"Shop","sender_ton":5,"sender_npi":0,"dest":"4915112345678","text":"Your code is 1234","data_coding":0,"offset_ms":0,"label":"legit","scenario":"otp"}`

func TestReadErrors(t *testing.T) {
	swap := func(old, repl string) string { return strings.Replace(good, old, repl, 1) }
	for _, c := range []struct{ name, data, want string }{
		{"unknown field", swap(`"scenario"`, `"colour":"red","scenario"`), `c.jsonl:1: json: unknown field "colour"`},
		{"missing field", swap(`"sender_npi":0,`, ""), `c.jsonl:1: field "sender_npi" missing`},
		{"second line", good + "\n" + swap(`"label":"legit"`, `"label":"spam"`), `c.jsonl:2: label "spam": want legit, fraud or greyroute`},
		{"blank lines counted", good + "\n\n" + swap(`"direction":"mt"`, `"direction":"up"`), `c.jsonl:3: direction "up"`},
		{"order", swap(`"offset_ms":0`, `"offset_ms":5`) + "\n" + good, "c.jsonl:2: offset_ms 0 before the previous line's 5"},
		{"two values", good + " {}", "c.jsonl:1: more than one JSON value"},
		{"not JSON", "{", "c.jsonl:1: unexpected EOF"},
		{"GSM with Cyrillic", swap(`Your code is 1234`, `Код 1234`), "c.jsonl:1: data_coding 0 but the text is not in the GSM 7-bit alphabet"},
		{"data coding", swap(`"data_coding":0`, `"data_coding":4`), "c.jsonl:1: data_coding 4"},
		{"peer class", swap(`"peer_class":"a2p"`, `"peer_class":"bulk"`), `c.jsonl:1: peer_class "bulk"`},
		{"empty text", swap(`"Your code is 1234"`, `""`), "c.jsonl:1: empty text"},
		{"no scenario", swap(`"scenario":"otp"`, `"scenario":""`), "c.jsonl:1: no scenario"},
		{"negative offset", swap(`"offset_ms":0`, `"offset_ms":-1`), "c.jsonl:1: offset_ms -1 is negative"},
		{"empty", "\n", "c.jsonl: no messages"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := Read("c.jsonl", strings.NewReader(c.data))
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %v, want %q", err, c.want)
			}
		})
	}
}

func TestWriteRead(t *testing.T) {
	msgs, err := Read("c.jsonl", strings.NewReader(good))
	if err != nil {
		t.Fatal(err)
	}
	m := msgs[0]
	m.Text, m.DataCoding, m.OffsetMS = "С Новым годом! 🎉 <&>", DataCodingFor("С Новым годом! 🎉 <&>"), 7
	msgs = append(msgs, m)
	var buf bytes.Buffer
	if err := Write(&buf, msgs); err != nil {
		t.Fatal(err)
	}
	back, err := Read("w.jsonl", &buf)
	if err != nil {
		t.Fatal(err)
	}
	if len(back) != 2 || back[1] != m || back[1].DataCoding != 8 {
		t.Fatalf("read back %+v", back)
	}
}

// The shipped corpora read strictly.
func TestShippedCorpora(t *testing.T) {
	for _, f := range []struct {
		name string
		min  int
	}{{"tuning.jsonl", 20000}, {"heldout.jsonl", 20000}, {"sample.jsonl", 1000}} {
		msgs, err := Load(f.name)
		if err != nil {
			t.Fatal(err)
		}
		if len(msgs) < f.min {
			t.Errorf("%s: %d messages, want >= %d", f.name, len(msgs), f.min)
		}
	}
}
