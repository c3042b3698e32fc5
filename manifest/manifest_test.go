package manifest

import (
	"bytes"
	"encoding/json"
	"errors"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/taosync/taosync/minisign"
)

// hex64 returns a 64-digit lower-case hex string made of c.
func hex64(c byte) string { return strings.Repeat(string(c), 64) }

// sample returns a valid manifest that uses every field: a delta with a
// base and a prev, a records section, a blob section, and state.
func sample() *Manifest {
	created := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	return &Manifest{
		Format:  Format,
		Version: "1.0",
		ID:      "0123456789abcdef0123456789abcdef",
		Kind:    KindData,
		Sender: Party{Role: "central", KeyID: "0123456789ABCDEF",
			AgeRecipient: "age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p"},
		Recipient: Party{Role: "client", Client: "school-7", Org: "org-1", KeyID: "FEDCBA9876543210",
			AgeRecipient: "age1lggyhqrw2nlhcxprm67z43rta597azn8gknawjehu9d9dl0jq3yqqvfafg"},
		Stream:  "data/school-7",
		Seq:     5,
		Base:    &Ref{Seq: 3, ID: "fedcba9876543210fedcba9876543210"},
		Prev:    hex64('a'),
		Created: created,
		Expires: created.Add(30 * 24 * time.Hour),
		Sections: []Section{
			{Name: "learners", Kind: Records, Records: 7, Deleted: 2, Chunks: []Chunk{
				{Hash: hex64('1'), Size: 100, ContentHash: hex64('2'), ContentSize: 300, Records: 5},
				{Hash: hex64('3'), Size: 50, ContentHash: hex64('4'), ContentSize: 120, Records: 2},
			}},
			{Name: "packages", Kind: Blob, Chunks: []Chunk{
				{Hash: hex64('5'), Size: 1 << 20, ContentHash: hex64('6'), ContentSize: 1 << 20},
			}},
			{Name: "empty", Kind: Records, Chunks: []Chunk{}},
		},
		State: json.RawMessage(`{"applied":{"seq":4}}`),
	}
}

func TestValidateAcceptsSample(t *testing.T) {
	if err := sample().Validate(); err != nil {
		t.Fatalf("sample manifest: %v", err)
	}
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(m *Manifest)
		ok     bool // the mutation keeps the manifest valid
	}{
		// Accepted variants, so that the refusals below are not refused for
		// another reason.
		{"full snapshot without base", func(m *Manifest) { m.Base = nil }, true},
		{"no prev", func(m *Manifest) { m.Prev = "" }, true},
		{"no sections", func(m *Manifest) { m.Sections = nil }, true},
		{"no state", func(m *Manifest) { m.State = nil }, true},
		{"lower-case key id", func(m *Manifest) { m.Sender.KeyID = "0123456789abcdef" }, true},
		{"client to central", func(m *Manifest) {
			m.Sender, m.Recipient = m.Recipient, m.Sender
			m.Kind = KindResults
		}, true},
		{"chunk at the stored size limit", func(m *Manifest) { m.Sections[1].Chunks[0].Size = MaxChunkStored }, true},
		{"chunk at the payload limit", func(m *Manifest) { m.Sections[1].Chunks[0].ContentSize = MaxChunkPayload }, true},
		{"empty payload", func(m *Manifest) { m.Sections[1].Chunks[0].ContentSize = 0 }, true},
		{"base just before seq", func(m *Manifest) { m.Base.Seq = m.Seq - 1 }, true},
		{"minor version 1.9", func(m *Manifest) { m.Version = "1.9" }, true},
		{"seq the largest int64", func(m *Manifest) { m.Seq = math.MaxInt64 }, true},

		{"wrong format", func(m *Manifest) { m.Format = "taosync-bundel" }, false},
		{"empty format", func(m *Manifest) { m.Format = "" }, false},
		{"version without minor", func(m *Manifest) { m.Version = "1" }, false},
		{"version not numeric", func(m *Manifest) { m.Version = "1.x" }, false},
		{"version negative", func(m *Manifest) { m.Version = "-1.0" }, false},
		{"version three parts", func(m *Manifest) { m.Version = "1.0.0" }, false},
		{"bundle id short", func(m *Manifest) { m.ID = m.ID[:31] }, false},
		{"bundle id long", func(m *Manifest) { m.ID += "0" }, false},
		{"bundle id upper case", func(m *Manifest) { m.ID = strings.ToUpper(m.ID) }, false},
		{"bundle id not hex", func(m *Manifest) { m.ID = "g" + m.ID[1:] }, false},
		{"bundle id empty", func(m *Manifest) { m.ID = "" }, false},
		{"unknown kind", func(m *Manifest) { m.Kind = "backup" }, false},
		{"sender role unknown", func(m *Manifest) { m.Sender.Role = "server" }, false},
		{"recipient role empty", func(m *Manifest) { m.Recipient.Role = "" }, false},
		{"client without client id", func(m *Manifest) { m.Recipient.Client = "" }, false},
		{"central with client id", func(m *Manifest) { m.Sender.Client = "x" }, false},
		{"key id short", func(m *Manifest) { m.Sender.KeyID = "0123456789ABCDE" }, false},
		{"key id not hex", func(m *Manifest) { m.Recipient.KeyID = "0123456789ABCDEG" }, false},
		{"key id empty", func(m *Manifest) { m.Sender.KeyID = "" }, false},
		{"age recipient not age", func(m *Manifest) { m.Recipient.AgeRecipient = "ssh-ed25519 AAAA" }, false},
		{"age recipient empty", func(m *Manifest) { m.Sender.AgeRecipient = "" }, false},
		{"empty stream", func(m *Manifest) { m.Stream = "" }, false},
		{"seq past int64", func(m *Manifest) { m.Seq = math.MaxInt64 + 1 }, false},
		{"seq the largest uint64", func(m *Manifest) { m.Seq = math.MaxUint64 }, false},
		{"seq 0", func(m *Manifest) { m.Seq = 0 }, false},
		{"seq 0 full", func(m *Manifest) { m.Seq, m.Base = 0, nil }, false},
		{"base equal to seq", func(m *Manifest) { m.Base.Seq = m.Seq }, false},
		{"base after seq", func(m *Manifest) { m.Base.Seq = m.Seq + 1 }, false},
		{"base id bad", func(m *Manifest) { m.Base.ID = "nope" }, false},
		{"prev not sha256", func(m *Manifest) { m.Prev = hex64('a')[:63] }, false},
		{"prev upper case", func(m *Manifest) { m.Prev = hex64('A') }, false},
		{"created zero", func(m *Manifest) { m.Created = time.Time{} }, false},
		{"expires zero", func(m *Manifest) { m.Expires = time.Time{} }, false},
		{"expires equal to created", func(m *Manifest) { m.Expires = m.Created }, false},
		{"expires before created", func(m *Manifest) { m.Expires = m.Created.Add(-time.Second) }, false},
		{"section name empty", func(m *Manifest) { m.Sections[0].Name = "" }, false},
		{"section name repeated", func(m *Manifest) { m.Sections[1].Name = m.Sections[0].Name }, false},
		{"section kind unknown", func(m *Manifest) { m.Sections[1].Kind = "files" }, false},
		{"chunk hash short", func(m *Manifest) { m.Sections[0].Chunks[0].Hash = hex64('1')[:62] }, false},
		{"chunk hash upper case", func(m *Manifest) { m.Sections[0].Chunks[0].Hash = hex64('A') }, false},
		{"content hash bad", func(m *Manifest) { m.Sections[0].Chunks[0].ContentHash = "x" }, false},
		{"chunk hash duplicated in a section", func(m *Manifest) {
			m.Sections[0].Chunks[1].Hash = m.Sections[0].Chunks[0].Hash
		}, false},
		{"chunk hash duplicated across sections", func(m *Manifest) {
			m.Sections[1].Chunks[0].Hash = m.Sections[0].Chunks[0].Hash
		}, false},
		{"chunk size 0", func(m *Manifest) { m.Sections[0].Chunks[0].Size = 0 }, false},
		{"chunk size negative", func(m *Manifest) { m.Sections[0].Chunks[0].Size = -1 }, false},
		{"chunk over the stored limit", func(m *Manifest) { m.Sections[1].Chunks[0].Size = MaxChunkStored + 1 }, false},
		{"content size negative", func(m *Manifest) { m.Sections[1].Chunks[0].ContentSize = -1 }, false},
		{"content over the payload limit", func(m *Manifest) { m.Sections[1].Chunks[0].ContentSize = MaxChunkPayload + 1 }, false},
		{"chunk records negative", func(m *Manifest) {
			m.Sections[0].Chunks[0].Records = -1
			m.Sections[0].Records = 1
		}, false},
		{"blob chunk with records", func(m *Manifest) { m.Sections[1].Chunks[0].Records = 1 }, false},
		{"section records above its chunks'", func(m *Manifest) { m.Sections[0].Records = 8 }, false},
		{"section records below its chunks'", func(m *Manifest) { m.Sections[0].Records = 6 }, false},
		{"empty section claims records", func(m *Manifest) { m.Sections[2].Records = 1 }, false},
		{"deleted above records", func(m *Manifest) { m.Sections[0].Deleted = 8 }, false},
		{"deleted negative", func(m *Manifest) { m.Sections[0].Deleted = -1 }, false},
		{"state not JSON", func(m *Manifest) { m.State = json.RawMessage(`{"a":`) }, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := sample()
			tt.mutate(m)
			err := m.Validate()
			if tt.ok {
				if err != nil {
					t.Fatalf("Validate: %v, want success", err)
				}
				return
			}
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("Validate = %v, want ErrMalformed", err)
			}
			// Marshal must refuse what Validate refuses: nothing invalid
			// is ever signed.
			if b, err := Marshal(m); !errors.Is(err, ErrMalformed) {
				t.Fatalf("Marshal = %d bytes, %v; want ErrMalformed", len(b), err)
			}
		})
	}
}

func TestVersion(t *testing.T) {
	tests := []struct {
		in           string
		major, minor int
		ok           bool
	}{
		{"1.0", 1, 0, true},
		{"1.9", 1, 9, true},
		{"2.0", 2, 0, true},
		{"0.1", 0, 1, true},
		{"10.25", 10, 25, true},
		{"1", 0, 0, false},
		{"", 0, 0, false},
		{".", 0, 0, false},
		{"1.", 0, 0, false},
		{".1", 0, 0, false},
		{"1.0.0", 0, 0, false},
		{"-1.0", 0, 0, false},
		{"1.-1", 0, 0, false},
		{"a.b", 0, 0, false},
		{"1.0 ", 0, 0, false},
		{"99999999999999999999.0", 0, 0, false},
	}
	for _, tt := range tests {
		major, minor, err := Version(tt.in)
		if !tt.ok {
			if !errors.Is(err, ErrMalformed) {
				t.Errorf("Version(%q) = %d, %d, %v; want ErrMalformed", tt.in, major, minor, err)
			}
			continue
		}
		if err != nil || major != tt.major || minor != tt.minor {
			t.Errorf("Version(%q) = %d, %d, %v; want %d, %d", tt.in, major, minor, err, tt.major, tt.minor)
		}
	}
}

func mustMarshal(t testing.TB, m *Manifest) []byte {
	t.Helper()
	b, err := Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// setField decodes raw as a generic JSON object, sets key to value (a JSON
// text) in it, and encodes it again.
func setField(t *testing.T, raw []byte, key, value string) []byte {
	t.Helper()
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(raw, &obj); err != nil {
		t.Fatal(err)
	}
	obj[key] = json.RawMessage(value)
	b, err := json.Marshal(obj)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestMarshalDeterministicAndRoundTrip(t *testing.T) {
	m := sample()
	a, b := mustMarshal(t, m), mustMarshal(t, sample())
	if !bytes.Equal(a, b) {
		t.Fatal("two encodings of the same manifest differ")
	}
	if !bytes.HasSuffix(a, []byte("}\n")) {
		t.Errorf("encoding does not end in a newline: %q", a[len(a)-5:])
	}
	p, err := Parse(a)
	if err != nil {
		t.Fatalf("Parse(Marshal(m)): %v", err)
	}
	if c := mustMarshal(t, p); !bytes.Equal(a, c) {
		t.Fatalf("Marshal(Parse(Marshal(m))) differs:\n%s\n%s", a, c)
	}
	if !p.Created.Equal(m.Created) || !p.Expires.Equal(m.Expires) || p.Base == nil || *p.Base != *m.Base ||
		p.Sections[0].Chunks[1] != m.Sections[0].Chunks[1] || compact(t, p.State) != compact(t, m.State) {
		t.Fatalf("parsed manifest differs from the original: %+v", p)
	}
}

// compact returns JSON text without insignificant whitespace: the
// encoding indents State, so only its meaning survives a round trip.
func compact(t testing.TB, b []byte) string {
	t.Helper()
	if len(b) == 0 {
		return ""
	}
	var buf bytes.Buffer
	if err := json.Compact(&buf, b); err != nil {
		t.Fatal(err)
	}
	return buf.String()
}

func TestParseStrict(t *testing.T) {
	good := mustMarshal(t, sample())
	m19 := sample()
	m19.Version = "1.9"
	good19 := mustMarshal(t, m19)

	tests := []struct {
		name string
		raw  []byte
		want error // nil: accepted
	}{
		{"valid", good, nil},
		{"valid 1.9", good19, nil},
		{"unknown field at 1.0", setField(t, good, "future", `true`), ErrMalformed},
		{"unknown field at 1.9", setField(t, good19, "future", `{"x":[1,2]}`), nil},
		{"unknown nested field at 1.0", bytes.Replace(good, []byte(`"stream":`), []byte(`"sender2":{},"stream":`), 1), ErrMalformed},
		{"unknown section field at 1.0", bytes.Replace(good, []byte(`"name": "learners",`), []byte(`"name": "learners", "codec": "x",`), 1), ErrMalformed},
		{"unknown section field at 1.9", bytes.Replace(good19, []byte(`"name": "learners",`), []byte(`"name": "learners", "codec": "x",`), 1), nil},
		{"trailing object", append(bytes.Clone(good), "{}"...), ErrMalformed},
		{"trailing brace", append(bytes.Clone(good), '}'), ErrMalformed},
		{"trailing garbage", append(bytes.Clone(good), "xyz"...), ErrMalformed},
		{"trailing number", append(bytes.Clone(good), '1'), ErrMalformed},
		{"second manifest", append(bytes.Clone(good), good...), ErrMalformed},
		{"trailing whitespace", append(bytes.Clone(good), " \n\t\r\n"...), nil},
		{"truncated", good[:len(good)-3], ErrMalformed},
		{"empty", nil, ErrMalformed},
		{"null", []byte("null"), ErrMalformed},
		{"array", []byte("[]"), ErrMalformed},
		{"string", []byte(`"taosync-bundle"`), ErrMalformed},
		{"wrong format", setField(t, good, "format", `"other"`), ErrMalformed},
		{"version missing", bytes.Replace(good, []byte(`"version": "1.0",`), nil, 1), ErrMalformed},
		{"version a number", setField(t, good, "version", `1.0`), ErrMalformed},
		{"major 2", setField(t, good, "version", `"2.0"`), ErrUnsupportedVersion},
		{"major 0", setField(t, good, "version", `"0.9"`), ErrUnsupportedVersion},
		// An unknown major version is refused before anything but the
		// format and version is looked at: its other fields may mean
		// anything.
		{"major 2 with nothing else", []byte(`{"format":"taosync-bundle","version":"2.0","chunks":"elsewhere"}`), ErrUnsupportedVersion},
		{"field of the wrong type", setField(t, good, "seq", `"5"`), ErrMalformed},
		{"seq negative", setField(t, good, "seq", `-1`), ErrMalformed},
		{"valid JSON, invalid field", setField(t, good, "seq", `0`), ErrMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := Parse(tt.raw)
			if tt.want == nil {
				if err != nil || m == nil {
					t.Fatalf("Parse: %v", err)
				}
				return
			}
			if !errors.Is(err, tt.want) || m != nil {
				t.Fatalf("Parse = %v, %v; want %v", m, err, tt.want)
			}
			if tt.want == ErrMalformed && errors.Is(err, ErrUnsupportedVersion) {
				t.Fatalf("Parse = %v, not ErrUnsupportedVersion", err)
			}
		})
	}
}

func TestParseSizeLimit(t *testing.T) {
	good := mustMarshal(t, sample())
	// Pad with whitespace inside the object, which leaves it valid JSON:
	// the limit is on the file, whatever it holds.
	pad := func(total int) []byte {
		i := bytes.LastIndexByte(good, '}')
		b := make([]byte, 0, total)
		b = append(b, good[:i]...)
		b = append(b, bytes.Repeat([]byte{' '}, total-len(good))...)
		return append(b, good[i:]...)
	}
	if _, err := Parse(pad(MaxManifestBytes)); err != nil {
		t.Fatalf("manifest of exactly MaxManifestBytes: %v", err)
	}
	raw := pad(MaxManifestBytes + 1)
	if _, err := Parse(raw); !errors.Is(err, ErrMalformed) {
		t.Fatalf("manifest of MaxManifestBytes+1: %v, want ErrMalformed", err)
	}
	if err := CheckVersion(raw); !errors.Is(err, ErrMalformed) {
		t.Fatalf("CheckVersion of MaxManifestBytes+1: %v, want ErrMalformed", err)
	}
}

func TestManifestHelpers(t *testing.T) {
	m := sample()
	if m.Full() {
		t.Error("a manifest with a base is Full")
	}
	if m.Base = nil; !m.Full() {
		t.Error("a manifest without a base is not Full")
	}
	if s := m.Section("packages"); s == nil || s.Kind != Blob {
		t.Errorf("Section(packages) = %+v", s)
	}
	if s := m.Section("learners"); s == nil || s != &m.Sections[0] {
		t.Error("Section does not return a pointer into Sections")
	}
	if s := m.Section("nope"); s != nil {
		t.Errorf("Section(nope) = %+v", s)
	}
	if n := m.Chunks(); n != 3 {
		t.Errorf("Chunks = %d, want 3", n)
	}
	if n := m.StoredBytes(); n != 100+50+1<<20 {
		t.Errorf("StoredBytes = %d", n)
	}
}

func newKey(t testing.TB) (minisign.PublicKey, minisign.PrivateKey) {
	t.Helper()
	pub, priv, err := minisign.GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	return pub, priv
}

func TestSignVerify(t *testing.T) {
	pub, priv := newKey(t)
	otherPub, otherPriv := newKey(t)
	m := sample()
	m.Sender.KeyID = pub.IDString()

	raw, sig, err := Sign(m, priv)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(raw, mustMarshal(t, m)) {
		t.Error("Sign does not return Marshal's bytes")
	}
	if !bytes.Contains(sig, []byte("trusted comment: taosync bundle "+m.ID+" kind:data stream:data/school-7 seq:5\n")) {
		t.Errorf("trusted comment missing from the signature:\n%s", sig)
	}
	got, key, err := Verify(raw, sig, []minisign.PublicKey{otherPub, pub})
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	if !key.Equal(pub) || got.ID != m.ID || got.Seq != m.Seq {
		t.Fatalf("Verify returned key %s, manifest %+v", key.IDString(), got)
	}

	t.Run("sender is not the signing key", func(t *testing.T) {
		if _, _, err := Sign(m, otherPriv); err == nil {
			t.Fatal("Sign with a key other than the sender's succeeded")
		}
		// Signed behind Sign's back: the signature verifies, but the
		// manifest names another sender.
		other := sample()
		other.Sender.KeyID = otherPub.IDString()
		raw := mustMarshal(t, other)
		sig, err := minisign.Sign(priv, raw, "x", "")
		if err != nil {
			t.Fatal(err)
		}
		if _, _, err := Verify(raw, sig, []minisign.PublicKey{pub, otherPub}); !errors.Is(err, ErrBadSignature) {
			t.Fatalf("Verify = %v, want ErrBadSignature", err)
		}
	})
	t.Run("unknown signer", func(t *testing.T) {
		if _, _, err := Verify(raw, sig, []minisign.PublicKey{otherPub}); !errors.Is(err, ErrUnknownSigner) {
			t.Fatalf("Verify = %v, want ErrUnknownSigner", err)
		}
		if _, _, err := Verify(raw, sig, nil); !errors.Is(err, ErrUnknownSigner) {
			t.Fatalf("Verify with no keys = %v, want ErrUnknownSigner", err)
		}
	})
	t.Run("tampered manifest", func(t *testing.T) {
		bad := bytes.Replace(raw, []byte(`"seq": 5`), []byte(`"seq": 6`), 1)
		if bytes.Equal(bad, raw) {
			t.Fatal("replacement did not apply")
		}
		if _, _, err := Verify(bad, sig, []minisign.PublicKey{pub}); !errors.Is(err, ErrBadSignature) {
			t.Fatalf("Verify = %v, want ErrBadSignature", err)
		}
	})
	t.Run("malformed signature", func(t *testing.T) {
		if _, _, err := Verify(raw, []byte("not a signature"), []minisign.PublicKey{pub}); !errors.Is(err, ErrBadSignature) {
			t.Fatalf("Verify = %v, want ErrBadSignature", err)
		}
	})
	t.Run("signed but invalid", func(t *testing.T) {
		// A valid signature does not make an invalid manifest valid.
		bad := setField(t, raw, "seq", "0")
		sig, err := minisign.Sign(priv, bad, "x", "")
		if err != nil {
			t.Fatal(err)
		}
		if _, _, err := Verify(bad, sig, []minisign.PublicKey{pub}); !errors.Is(err, ErrMalformed) {
			t.Fatalf("Verify = %v, want ErrMalformed", err)
		}
	})
	t.Run("unsupported version before the signature", func(t *testing.T) {
		v2 := sample()
		v2.Sender.KeyID = pub.IDString()
		v2.Version = "2.0"
		raw, sig, err := Sign(v2, priv)
		if err != nil {
			t.Fatal(err)
		}
		for name, sig := range map[string][]byte{
			"signed":         sig,
			"unsigned":       nil,
			"bad signature":  []byte("garbage"),
			"unknown signer": sig, // with no trusted keys below
		} {
			keys := []minisign.PublicKey{pub}
			if name == "unknown signer" {
				keys = nil
			}
			if _, _, err := Verify(raw, sig, keys); !errors.Is(err, ErrUnsupportedVersion) {
				t.Errorf("%s: Verify = %v, want ErrUnsupportedVersion", name, err)
			}
		}
	})
}
