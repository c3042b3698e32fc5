package manifest

import (
	"bytes"
	"errors"
	"reflect"
	"testing"
)

// FuzzParse checks that Parse never panics, that every refusal wraps one of
// the package's sentinels, and that whatever Parse accepts survives the
// parse-then-encode round trip: it encodes, the encoding parses back to an
// equal manifest, and encoding that gives the same bytes again.
func FuzzParse(f *testing.F) {
	good := mustMarshal(f, sample())
	m19 := sample()
	m19.Version = "1.9"
	good19 := mustMarshal(f, m19)
	full := sample()
	full.Base, full.Prev, full.State, full.Sections = nil, "", nil, nil
	minimal := mustMarshal(f, full)

	f.Add(good)
	f.Add(good19)
	f.Add(minimal)
	f.Add(bytes.Replace(good19, []byte(`"stream":`), []byte(`"later":{"a":[1,null]},"stream":`), 1))
	f.Add(bytes.Replace(good, []byte(`"version": "1.0"`), []byte(`"version": "2.0"`), 1))
	f.Add(bytes.Replace(good, []byte(`"seq": 5`), []byte(`"seq": 0`), 1))
	f.Add(bytes.Replace(good, []byte(`"base": {`), []byte(`"base": null, "x": {`), 1))
	f.Add(bytes.Replace(good, []byte(`Z"`), []byte(`+01:00"`), 2))
	f.Add(bytes.Replace(good, []byte(`Z"`), []byte(`+00:00"`), 2))
	f.Add(bytes.Replace(good, []byte(`"state": {`), []byte(`"state": null, "s": {`), 1))
	f.Add(append(bytes.Clone(good), "{}"...))
	f.Add(good[:len(good)/2])
	f.Add([]byte(`{"format":"taosync-bundle","version":"1.0"}`))
	f.Add([]byte(`{"format":"taosync-bundle","version":"1.0","sections":[{"name":"\u00e9","kind":"records","chunks":null}]}`))
	f.Add([]byte(`null`))

	f.Fuzz(func(t *testing.T, raw []byte) {
		m1, err := Parse(raw)
		if err != nil {
			if m1 != nil {
				t.Fatal("Parse returned a manifest with an error")
			}
			if !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrUnsupportedVersion) {
				t.Fatalf("Parse error wraps no sentinel: %v", err)
			}
			return
		}
		b1, err := Marshal(m1)
		if err != nil {
			t.Fatalf("parsed manifest does not encode: %v", err)
		}
		m2, err := Parse(b1)
		if err != nil {
			t.Fatalf("encoding of a parsed manifest does not parse: %v\n%s", err, b1)
		}
		if !sameManifest(t, m1, m2) {
			t.Fatalf("round trip changed the manifest:\n%+v\n%+v", m1, m2)
		}
		b2, err := Marshal(m2)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(b1, b2) {
			t.Fatalf("encoding is not stable:\n%s\n%s", b1, b2)
		}
	})
}

// sameManifest compares manifests by meaning: times by instant (a parsed
// "+00:00" is in time.Local, its encoding "Z" parses to UTC), State as
// compact JSON (the encoding indents it), every other field exactly.
func sameManifest(t testing.TB, a, b *Manifest) bool {
	if !a.Created.Equal(b.Created) || !a.Expires.Equal(b.Expires) ||
		compact(t, a.State) != compact(t, b.State) {
		return false
	}
	x, y := *a, *b
	x.Created, x.Expires, x.State = y.Created, y.Expires, y.State
	return reflect.DeepEqual(&x, &y)
}
