package bundle

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"

	"filippo.io/age"
	"github.com/klauspost/compress/zstd"

	"github.com/taosync/taosync/manifest"
)

// FuzzOpen writes one valid bundle, then lets the fuzzer replace the bytes
// of its manifest (the signature stays) or of one of its chunks. Open, Check
// and Read must never panic; whenever the bytes differ from the original,
// the bundle must be refused (by Open, or by both Check and Read), and Read
// must never hand the callback anything but an intact chunk's payload.
// Read checks payloads, not chunk files: the one changed file it may
// accept is the same payload sealed again for this recipient.
func FuzzOpen(f *testing.F) {
	w := newWorld(f)
	res := w.write(f, f.TempDir(), w.a, 1, 3, smallSections())
	trust := w.trust(w.a)

	files := map[string][]byte{}
	for _, name := range listDir(f, res.Dir) {
		b, err := os.ReadFile(filepath.Join(res.Dir, name))
		if err != nil {
			f.Fatal(err)
		}
		files[name] = b
	}
	// The targets the fuzzer may replace: the manifest and every chunk.
	targets := []string{manifest.FileName}
	payloads := map[string][]byte{}
	b, err := Open(res.Dir, trust)
	if err != nil {
		f.Fatal(err)
	}
	for _, p := range readAll(f, b, w.a.id) {
		targets = append(targets, p.Chunk.Hash)
		payloads[p.Chunk.Hash] = p.Data
	}

	for i, name := range targets {
		orig := files[name]
		f.Add(uint8(i), orig)
		flipped := bytes.Clone(orig)
		flipped[len(flipped)/2] ^= 0x10
		f.Add(uint8(i), flipped)
		f.Add(uint8(i), orig[:len(orig)-1])
		f.Add(uint8(i), append(bytes.Clone(orig), '\n'))
		f.Add(uint8(i), []byte{})
		if name != manifest.FileName {
			f.Add(uint8(i), seal(f, payloads[name], w.a.id.Recipient()))
		}
	}
	raw := files[manifest.FileName]
	f.Add(uint8(0), bytes.Replace(raw, []byte(`"version": "1.0"`), []byte(`"version": "2.0"`), 1))
	f.Add(uint8(0), bytes.Replace(raw, []byte(`"version": "1.0"`), []byte(`"version": "1.9"`), 1))
	f.Add(uint8(0), bytes.ReplaceAll(raw, []byte(" "), nil))

	bundleName := filepath.Base(res.Dir)
	f.Fuzz(func(t *testing.T, target uint8, data []byte) {
		name := targets[int(target)%len(targets)]
		dir := filepath.Join(t.TempDir(), bundleName)
		if err := os.Mkdir(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		for n, b := range files {
			if n == name {
				b = data
			}
			if err := os.WriteFile(filepath.Join(dir, n), b, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		same := bytes.Equal(data, files[name])

		b, err := Open(dir, trust)
		if err != nil {
			if same {
				t.Fatalf("Open refused the original bundle: %v", err)
			}
			if b != nil {
				t.Fatal("Open returned a bundle with its error")
			}
			return
		}
		if !same && name == manifest.FileName {
			t.Fatal("Open accepted a changed manifest")
		}
		checkErr := b.Check(context.Background())
		readErr := b.Read(context.Background(), w.a.id, nil, func(p Payload) error {
			want, ok := payloads[p.Chunk.Hash]
			if !ok || !bytes.Equal(p.Data, want) {
				t.Fatalf("Read handed the callback chunk %s, which is not intact", p.Chunk.Hash)
			}
			return nil
		})
		if same && (checkErr != nil || readErr != nil) {
			t.Fatalf("original bundle: Check = %v, Read = %v", checkErr, readErr)
		}
		if !same && (checkErr == nil || readErr == nil && !resealed(data, payloads[name], w.a.id)) {
			t.Fatalf("changed chunk %s: Check = %v, Read = %v; want both to refuse", name, checkErr, readErr)
		}
	})
}

// resealed reports whether stored is payload sealed for id as a chunk: a
// zstd frame of it, encrypted with age.
func resealed(stored, payload []byte, id age.Identity) bool {
	compressed, err := decrypt(stored, id, nil)
	if err != nil {
		return false
	}
	dec, err := zstd.NewReader(nil)
	if err != nil {
		return false
	}
	defer dec.Close()
	data, err := dec.DecodeAll(compressed, nil)
	return err == nil && bytes.Equal(data, payload)
}
