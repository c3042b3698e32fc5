package bundle

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/taosync/taosync/manifest"
)

// tool finds one of the real programs the format promises to work with.
// Missing, it skips the test, except in CI, where it must be installed.
func tool(t *testing.T, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s is not installed (Debian package %s); CI must install it for the interop tests", name, name)
		}
		t.Skipf("%s is not installed (Debian package %s): skipping the interop test", name, name)
	}
	return p
}

// command prepares a program run that can never wait on a terminal: its
// standard input is /dev/null unless the caller connects it, and it is
// killed if it runs for more than a minute.
func command(t *testing.T, name string, args ...string) *exec.Cmd {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Stdin = nil
	return cmd
}

// run runs a command and returns its standard output; it fails the test
// with its standard error if it does not exit 0.
func run(t *testing.T, cmd *exec.Cmd) []byte {
	t.Helper()
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s: %v\n%s", strings.Join(cmd.Args, " "), err, stderr.String())
	}
	return stdout.Bytes()
}

// interopSections is a bundle whose chunks cover records, a compressible
// blob, an incompressible blob of several age STREAM chunks, and an empty
// blob.
func interopSections() []section {
	var rs []string
	for i := range 2500 {
		rs = append(rs, fmt.Sprintf(`{"id":"l%05d","name":"Learner %d","note":"é ✓ \u2028"}`, i, i))
	}
	return []section{
		{name: "learners", kind: manifest.Records, records: rs, deleted: map[int]bool{3: true}},
		{name: "package", kind: manifest.Blob, blobs: [][]byte{
			bytes.Repeat([]byte("<item>question</item>\n"), 50000),
			randomBytes(7, 3<<20+12345),
			{},
		}},
	}
}

// TestInteropMinisign: `minisign -V` verifies the manifest signature our
// writer makes, and refuses it once the manifest is changed.
func TestInteropMinisign(t *testing.T) {
	minisign := tool(t, "minisign")
	w := newWorld(t)
	res := w.write(t, t.TempDir(), w.a, 3, 1000, interopSections())
	pub := filepath.Join(t.TempDir(), "central.pub")
	if err := os.WriteFile(pub, w.central.pub.MarshalFile(), 0o644); err != nil {
		t.Fatal(err)
	}
	mf := filepath.Join(res.Dir, manifest.FileName)
	sig := filepath.Join(res.Dir, manifest.SigName)
	out := run(t, command(t, minisign, "-Vm", mf, "-p", pub, "-x", sig))
	m := res.Manifest
	want := fmt.Sprintf("Trusted comment: taosync bundle %s kind:data stream:%s seq:3", m.ID, m.Stream)
	if !strings.Contains(string(out), want) {
		t.Errorf("minisign output lacks %q:\n%s", want, out)
	}
	// minisign finds the signature beside the file by its name, too.
	run(t, command(t, minisign, "-Vm", mf, "-p", pub))

	// A changed manifest does not verify.
	raw, _ := os.ReadFile(mf)
	bad := filepath.Join(t.TempDir(), manifest.FileName)
	if err := os.WriteFile(bad, bytes.Replace(raw, []byte(`"seq": 3`), []byte(`"seq": 4`), 1), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := command(t, minisign, "-Vm", bad, "-p", pub, "-x", sig)
	if out, err := cmd.CombinedOutput(); err == nil {
		t.Fatalf("minisign verified a changed manifest:\n%s", out)
	}
}

// TestInteropAgeZstd: every chunk opens by hand with
// `age -d -i KEY chunk | zstd -d` and gives the exact payload.
func TestInteropAgeZstd(t *testing.T) {
	ageBin, zstdBin := tool(t, "age"), tool(t, "zstd")
	w := newWorld(t)
	res := w.write(t, t.TempDir(), w.a, 1, 1000, interopSections())
	b, err := Open(res.Dir, w.trust(w.a))
	if err != nil {
		t.Fatal(err)
	}
	payloads := readAll(t, b, w.a.id)
	if len(payloads) != 6 {
		t.Fatalf("%d chunks, want 6", len(payloads))
	}
	key := filepath.Join(t.TempDir(), "client.key")
	if err := os.WriteFile(key, []byte(w.a.id.String()+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for i, p := range payloads {
		dec := command(t, ageBin, "-d", "-i", key, filepath.Join(res.Dir, p.Chunk.Hash))
		unz := command(t, zstdBin, "-d")
		pipe, err := dec.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		var out, decErr, unzErr bytes.Buffer
		dec.Stderr = &decErr
		unz.Stdin, unz.Stdout, unz.Stderr = pipe, &out, &unzErr
		if err := dec.Start(); err != nil {
			t.Fatal(err)
		}
		unzRun := unz.Run()
		if err := dec.Wait(); err != nil {
			t.Fatalf("chunk %d: age -d: %v\n%s", i, err, decErr.String())
		}
		if unzRun != nil {
			t.Fatalf("chunk %d (%d byte payload): zstd -d: %v\n%s", i, len(p.Data), unzRun, unzErr.String())
		}
		if !bytes.Equal(out.Bytes(), p.Data) {
			t.Fatalf("chunk %d: age | zstd gave %d bytes, want the %d byte payload", i, out.Len(), len(p.Data))
		}
	}
}

// TestInteropForeignChunks: chunks made by the real `zstd -3 | age -r`
// are read by the reader once a signed manifest lists them.
func TestInteropForeignChunks(t *testing.T) {
	ageBin, zstdBin := tool(t, "age"), tool(t, "zstd")
	w := newWorld(t)
	tmp := t.TempDir()

	var records bytes.Buffer
	for i := range 3000 {
		fmt.Fprintf(&records, `{"id":%d,"given":"G%d"}`+"\n", i, i)
	}
	payloads := [][]byte{records.Bytes(), randomBytes(11, 1<<20+7), []byte("one small blob")}

	// seal runs `zstd -3 -c PAYLOAD | age -r RECIPIENT` and returns the
	// stored bytes.
	seal := func(i int, payload []byte) []byte {
		in := filepath.Join(tmp, fmt.Sprintf("payload-%d", i))
		if err := os.WriteFile(in, payload, 0o644); err != nil {
			t.Fatal(err)
		}
		z := command(t, zstdBin, "-3", "-c", "-q", in)
		enc := command(t, ageBin, "-r", w.a.id.Recipient().String())
		pipe, err := z.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		var zErr bytes.Buffer
		z.Stderr = &zErr
		enc.Stdin = pipe
		if err := z.Start(); err != nil {
			t.Fatal(err)
		}
		out := run(t, enc)
		if err := z.Wait(); err != nil {
			t.Fatalf("zstd -3: %v\n%s", err, zErr.String())
		}
		return out
	}
	chunk := func(payload, stored []byte, records int64) manifest.Chunk {
		s, c := sha256.Sum256(stored), sha256.Sum256(payload)
		return manifest.Chunk{Hash: hex.EncodeToString(s[:]), Size: int64(len(stored)),
			ContentHash: hex.EncodeToString(c[:]), ContentSize: int64(len(payload)), Records: records}
	}

	m := w.header(w.a, 1)
	stored := make([][]byte, len(payloads))
	for i, p := range payloads {
		stored[i] = seal(i, p)
	}
	m.Sections = []manifest.Section{
		{Name: "learners", Kind: manifest.Records, Records: 3000, Chunks: []manifest.Chunk{chunk(payloads[0], stored[0], 3000)}},
		{Name: "package", Kind: manifest.Blob, Chunks: []manifest.Chunk{chunk(payloads[1], stored[1], 0), chunk(payloads[2], stored[2], 0)}},
	}
	parent := t.TempDir()
	dir := filepath.Join(parent, Name(m))
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for i, s := range stored {
		c := m.Sections[min(i, 1)].Chunks[max(0, i-1)]
		if err := os.WriteFile(filepath.Join(dir, c.Hash), s, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	raw, sig, err := manifest.Sign(m, w.central.priv)
	if err != nil {
		t.Fatal(err)
	}
	if err := publish(dir, raw, sig); err != nil {
		t.Fatal(err)
	}

	if dirs, err := Find(parent); err != nil || len(dirs) != 1 || dirs[0] != dir {
		t.Fatalf("Find = %v, %v", dirs, err)
	}
	b, err := Open(dir, w.trust(w.a))
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Check(context.Background()); err != nil {
		t.Fatal(err)
	}
	got := readAll(t, b, w.a.id)
	if len(got) != len(payloads) {
		t.Fatalf("Read gave %d payloads, want %d", len(got), len(payloads))
	}
	for i := range payloads {
		if !bytes.Equal(got[i].Data, payloads[i]) {
			t.Errorf("payload %d differs (%d bytes, want %d)", i, len(got[i].Data), len(payloads[i]))
		}
	}
}
