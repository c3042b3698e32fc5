package minisign

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// minisignBinary returns the path of the real minisign tool (Debian package
// "minisign"). Without it the interop tests cannot run: they skip on a
// developer machine and fail in CI, which installs the package.
func minisignBinary(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("minisign")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("minisign binary not found (%v); CI must install the Debian package minisign", err)
		}
		t.Skipf("cannot run interop test: minisign binary not found (%v); install the Debian package minisign", err)
	}
	return p
}

// runMinisign runs the real tool in dir. Stdin is nil, so it reads from
// /dev/null and can never wait on a terminal for a password.
func runMinisign(t *testing.T, bin, dir string, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Dir = dir
	cmd.Stdin = nil
	out, err := cmd.CombinedOutput()
	if ctx.Err() != nil {
		t.Fatalf("minisign %s: timed out (waiting for input?): %s", strings.Join(args, " "), out)
	}
	return string(out), err
}

func writeFile(t *testing.T, dir, name string, b []byte) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func readFile(t *testing.T, p string) []byte {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestInteropMinisignVersion(t *testing.T) {
	bin := minisignBinary(t)
	out, err := runMinisign(t, bin, t.TempDir(), "-v")
	if err != nil {
		t.Fatalf("minisign -v: %v: %s", err, out)
	}
	t.Logf("real tool: %s", strings.TrimSpace(out))
}

// Signed by us, verified by the real tool.
func TestInteropOurSignatureRealVerify(t *testing.T) {
	bin := minisignBinary(t)
	dir := t.TempDir()
	pk, sk := newKey(t)
	msg := []byte("release tarball contents\x00\xff\n")
	const tc = "timestamp:1700000000\tfile:release.tar\thashed"
	sig, err := Sign(sk, msg, tc, "signed by taosync")
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, dir, "msg", msg)
	writeFile(t, dir, "msg.minisig", sig)
	writeFile(t, dir, "key.pub", pk.MarshalFile())

	out, err := runMinisign(t, bin, dir, "-Vm", "msg", "-p", "key.pub", "-x", "msg.minisig")
	if err != nil {
		t.Fatalf("minisign -V rejected our signature: %v: %s", err, out)
	}
	if !strings.Contains(out, "Trusted comment: "+tc) {
		t.Fatalf("minisign -V output lacks our trusted comment: %s", out)
	}
	// -H requires a prehashed signature: ours must be one.
	if out, err := runMinisign(t, bin, dir, "-V", "-H", "-m", "msg", "-P", pk.String(), "-x", "msg.minisig"); err != nil {
		t.Fatalf("minisign -V -H -P rejected our signature: %v: %s", err, out)
	}

	// The tool must reject what we reject, or the test above proves little.
	writeFile(t, dir, "msg", append(msg, '!'))
	if out, err := runMinisign(t, bin, dir, "-Vm", "msg", "-p", "key.pub", "-x", "msg.minisig"); err == nil {
		t.Fatalf("minisign -V accepted a modified message: %s", out)
	}
	writeFile(t, dir, "msg", msg)
	writeFile(t, dir, "msg.minisig", []byte(strings.Replace(string(sig), "file:release", "file:Release", 1)))
	if out, err := runMinisign(t, bin, dir, "-Vm", "msg", "-p", "key.pub", "-x", "msg.minisig"); err == nil {
		t.Fatalf("minisign -V accepted a modified trusted comment: %s", out)
	}
}

// Key made and used by the real tool, read and verified by us.
func TestInteropRealKeyRealSignature(t *testing.T) {
	bin := minisignBinary(t)
	dir := t.TempDir()
	if out, err := runMinisign(t, bin, dir, "-G", "-W", "-p", "real.pub", "-s", "real.key"); err != nil {
		t.Fatalf("minisign -G -W: %v: %s", err, out)
	}
	pk, err := ParsePublicKeyFile(readFile(t, filepath.Join(dir, "real.pub")))
	if err != nil {
		t.Fatalf("parse real public key file: %v", err)
	}
	sk, err := ParsePrivateKeyFile(readFile(t, filepath.Join(dir, "real.key")))
	if err != nil {
		t.Fatalf("parse real secret key file: %v", err)
	}
	if !sk.Public().Equal(pk) {
		t.Fatal("real secret key does not match real public key")
	}
	if got := string(pk.MarshalFile()); got != string(readFile(t, filepath.Join(dir, "real.pub"))) {
		t.Fatalf("our public key file differs from the real tool's:\n%s", got)
	}

	msg := []byte("some file\n")
	writeFile(t, dir, "f", msg)
	const tc = "real tool comment"
	if out, err := runMinisign(t, bin, dir, "-S", "-s", "real.key", "-m", "f", "-t", tc); err != nil {
		t.Fatalf("minisign -S: %v: %s", err, out)
	}
	sig := readFile(t, filepath.Join(dir, "f.minisig"))
	if ps, err := parseSignature(sig); err != nil || ps.alg != algPrehashed {
		t.Fatalf("real tool's default signature is not prehashed \"ED\": %v %s", err, sig)
	}
	got, gotTC, err := Verify(sig, msg, []PublicKey{pk})
	if err != nil {
		t.Fatalf("Verify real signature: %v", err)
	}
	if !got.Equal(pk) || gotTC != tc {
		t.Fatalf("Verify returned %s %q", got.IDString(), gotTC)
	}
	if _, _, err := Verify(sig, []byte("some file!\n"), []PublicKey{pk}); !errors.Is(err, ErrBadSignature) {
		t.Fatalf("real signature over another message: %v, want ErrBadSignature", err)
	}

	// Legacy (non-prehashed) signature from the real tool.
	if out, err := runMinisign(t, bin, dir, "-S", "-l", "-s", "real.key", "-m", "f", "-x", "f.legacy", "-t", "legacy"); err != nil {
		t.Fatalf("minisign -S -l: %v: %s", err, out)
	}
	if _, gotTC, err := Verify(readFile(t, filepath.Join(dir, "f.legacy")), msg, []PublicKey{pk}); err != nil || gotTC != "legacy" {
		t.Fatalf("Verify real legacy signature: %q %v", gotTC, err)
	}
}

// Our secret key file used by the real tool, its signature verified by us.
func TestInteropOurKeyRealSign(t *testing.T) {
	bin := minisignBinary(t)
	dir := t.TempDir()
	pk, sk := newKey(t)
	writeFile(t, dir, "our.key", sk.MarshalFile())
	writeFile(t, dir, "our.pub", pk.MarshalFile())
	msg := []byte("signed by the real tool with our key\n")
	writeFile(t, dir, "f", msg)

	// Passing -p makes minisign check its own signature against our public
	// key file before writing it.
	out, err := runMinisign(t, bin, dir, "-S", "-s", "our.key", "-p", "our.pub", "-m", "f", "-t", "with our key")
	if err != nil {
		t.Fatalf("minisign -S with our secret key: %v: %s", err, out)
	}
	if strings.Contains(out, "Password") {
		t.Fatalf("minisign asked for a password for our unencrypted key: %s", out)
	}
	got, tc, err := Verify(readFile(t, filepath.Join(dir, "f.minisig")), msg, []PublicKey{pk})
	if err != nil || !got.Equal(pk) || tc != "with our key" {
		t.Fatalf("Verify: %s %q %v", got.IDString(), tc, err)
	}

	// -R recreates the public key file from our secret key file: it must be
	// byte for byte the one we write.
	if out, err := runMinisign(t, bin, dir, "-R", "-s", "our.key", "-p", "recreated.pub"); err != nil {
		t.Fatalf("minisign -R: %v: %s", err, out)
	}
	if got, want := string(readFile(t, filepath.Join(dir, "recreated.pub"))), string(pk.MarshalFile()); got != want {
		t.Fatalf("minisign -R wrote\n%s\nwe write\n%s", got, want)
	}
}
