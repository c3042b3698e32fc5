package client_test

import (
	"errors"
	"testing"

	"github.com/taosync/taosync/internal/client"
	"github.com/taosync/taosync/internal/home"
	"github.com/taosync/taosync/internal/store"
	"github.com/taosync/taosync/internal/testfixture"
)

// TestImportCredentials: the same client's credentials again replace the
// old ones and the central key trusted; another client's are refused and
// change nothing.
func TestImportCredentials(t *testing.T) {
	f := testfixture.New(t)
	f.Start(nil)
	cl := f.Register("ca", "A")
	other, err := home.Init(f.Ctx, t.TempDir(), home.RoleCentral)
	if err != nil {
		t.Fatal(err)
	}
	newKeys, err := other.PublicKeys()
	other.Close()
	if err != nil {
		t.Fatal(err)
	}
	meta := func() (id, secret, root string) {
		t.Helper()
		for _, v := range []struct {
			k string
			v *string
		}{{"client_id", &id}, {"oauth_secret", &secret}, {"root_url", &root}} {
			if *v.v, err = store.Meta(f.Ctx, cl.Home.DB, v.k); err != nil {
				t.Fatal(err)
			}
		}
		return id, secret, root
	}
	trusted := func() string {
		t.Helper()
		keys, err := store.TrustedKeys(f.Ctx, cl.Home.DB)
		if err != nil || len(keys) != 1 || keys[0].Party != "central" {
			t.Fatalf("trusted keys %+v, %v; want central's alone", keys, err)
		}
		return keys[0].KeyID
	}

	err = cl.ImportCredentials(f.Ctx, store.Credentials{ClientID: "ca", Secret: "s2", TokenURL: "https://c.example/t", RootURL: "https://c.example"}, newKeys)
	if err != nil {
		t.Fatal(err)
	}
	if id, secret, root := meta(); id != "ca" || secret != "s2" || root != "https://c.example" {
		t.Errorf("credentials again: %s %s %s; want ca s2 https://c.example", id, secret, root)
	}
	if got := trusted(); got != newKeys.Sign.IDString() {
		t.Errorf("trusted %s, want the new key %s", got, newKeys.Sign.IDString())
	}

	own, err := f.C.Home.PublicKeys()
	if err != nil {
		t.Fatal(err)
	}
	err = cl.ImportCredentials(f.Ctx, store.Credentials{ClientID: "cb", Secret: "s3", TokenURL: "https://x/t", RootURL: "https://x"}, own)
	var re *client.RegisteredError
	if !errors.As(err, &re) || re.Registered != "ca" || re.Given != "cb" {
		t.Fatalf("another client's credentials: %v, want a RegisteredError (ca, cb)", err)
	}
	if id, secret, root := meta(); id != "ca" || secret != "s2" || root != "https://c.example" {
		t.Errorf("after the refusal: %s %s %s; want them unchanged", id, secret, root)
	}
	if got := trusted(); got != newKeys.Sign.IDString() {
		t.Errorf("after the refusal, trusted %s; want %s still", got, newKeys.Sign.IDString())
	}
}
