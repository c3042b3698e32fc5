package qti

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

const testdata = "../../testdata/qti/"

// sentinels are all the errors Validate may wrap.
var sentinels = []error{
	ErrUnreadable, ErrNotContentPackage, ErrBadManifest, ErrNoTest, ErrManyTests,
	ErrMissingFile, ErrPathEscape, ErrTooLarge, ErrDuplicateEntry, ErrBadTest, ErrBadItem,
}

// checkError fails unless err wraps want, wraps no other sentinel, and
// reads as a Go error message should: one line, lower case, no trailing
// period.
func checkError(t *testing.T, err, want error) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Fatalf("error = %v, want %v", err, want)
	}
	for _, s := range sentinels {
		if s != want && errors.Is(err, s) {
			t.Errorf("error %q also wraps %v", err, s)
		}
	}
	checkMessage(t, err)
}

func checkMessage(t *testing.T, err error) {
	t.Helper()
	msg := err.Error()
	if strings.ContainsAny(msg, "\n\r") {
		t.Errorf("message is not one line: %q", msg)
	}
	if strings.HasSuffix(msg, ".") {
		t.Errorf("message ends with a period: %q", msg)
	}
	if msg[0] < 'a' || msg[0] > 'z' {
		t.Errorf("message does not start in lower case: %q", msg)
	}
}

// TestRealPackages checks the nine QTIWorks packages against the outcomes
// in testdata/qti/NOTICE.md.
func TestRealPackages(t *testing.T) {
	for _, tc := range []struct {
		file    string
		want    error  // nil: accepted
		mention string // the message must name this
	}{
		{"WebDeveloperTest1.zip", nil, ""},
		{"Aardvark-cannon.zip", ErrNoTest, "imsmanifest.xml"},
		{"BadMix.zip", ErrManyTests, `"question1"`},
		{"BadManifest.zip", ErrBadManifest, "imsmanifest.xml"},
		{"MissingFile.zip", ErrMissingFile, `"missing.xml"`},
		{"ExternalHref.zip", ErrPathEscape, `"../outside.xml"`},
		{"NotContentPackage.zip", ErrNotContentPackage, "imsmanifest.xml"},
		{"WebDeveloperTest1-incomplete.zip", ErrUnreadable, ""},
		{"ZipSlip.zip", ErrPathEscape, `"../etc/`},
	} {
		t.Run(tc.file, func(t *testing.T) {
			p, err := ValidateFile(testdata+tc.file, DefaultLimits)
			if tc.want == nil {
				if err != nil {
					t.Fatalf("rejected: %v", err)
				}
				return
			}
			if p != nil {
				t.Errorf("got a package %+v with the error", p)
			}
			checkError(t, err, tc.want)
			t.Log(err)
			if !strings.Contains(err.Error(), tc.mention) {
				t.Errorf("error %q does not mention %s", err, tc.mention)
			}
		})
	}
}

func TestWebDeveloperTest1(t *testing.T) {
	p, err := ValidateFile(testdata+"WebDeveloperTest1.zip", DefaultLimits)
	if err != nil {
		t.Fatal(err)
	}
	if p.Identifier != "SCENARIO" {
		t.Errorf("Identifier = %q, want SCENARIO", p.Identifier)
	}
	if p.Test != "template_test1.xml" {
		t.Errorf("Test = %q, want template_test1.xml", p.Test)
	}
	if p.Title != "Web Developer Website" { // the test XML is ISO-8859-1
		t.Errorf("Title = %q, want Web Developer Website", p.Title)
	}
	if p.Items != 9 {
		t.Errorf("Items = %d, want 9", p.Items)
	}
	if !slices.Contains(p.Files, "directory.jpg") {
		t.Errorf("Files %q lack the image directory.jpg", p.Files)
	}
	if len(p.Files) != 12 || !slices.IsSorted(p.Files) || !slices.Contains(p.Files, p.Test) {
		t.Errorf("Files = %q, want the 12 entries sorted, with the test", p.Files)
	}
	if p.Bytes != 23389 { // as unzip -l lists them
		t.Errorf("Bytes = %d, want 23389", p.Bytes)
	}
}

// TestRealPackagesLimits checks that the limits bite on a real package.
func TestRealPackagesLimits(t *testing.T) {
	for _, lim := range []Limits{
		{MaxArchiveBytes: 10000},
		{MaxEntries: 11},
		{MaxEntryBytes: 3000},
		{MaxTotalBytes: 20000},
	} {
		_, err := ValidateFile(testdata+"WebDeveloperTest1.zip", lim)
		checkError(t, err, ErrTooLarge)
	}
	if _, err := ValidateFile(testdata+"WebDeveloperTest1.zip", Limits{MaxEntries: -1}); err == nil {
		t.Error("negative limit accepted")
	}
}

// TestZipSlipWritesNothing validates ZipSlip.zip from a fresh working
// directory two levels down a temporary tree, and checks that nothing at
// all appeared in the tree (the entries would land in ../etc/passwd).
func TestZipSlipWritesNothing(t *testing.T) {
	pkg, err := filepath.Abs(testdata + "ZipSlip.zip")
	if err != nil {
		t.Fatal(err)
	}
	root := t.TempDir()
	work := filepath.Join(root, "a", "b")
	if err := os.MkdirAll(work, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Chdir(work)
	before, _ := os.Stat(pkg)

	_, err = ValidateFile(pkg, DefaultLimits)
	checkError(t, err, ErrPathEscape)
	if _, err := ValidateFile("ZipSlip.zip", DefaultLimits); !errors.Is(err, ErrUnreadable) {
		t.Errorf("relative path from the temp dir: %v, want ErrUnreadable (no such file)", err)
	}

	var found []string
	filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			t.Error(err)
			return nil
		}
		if p != root {
			rel, _ := filepath.Rel(root, p)
			found = append(found, filepath.ToSlash(rel))
		}
		return nil
	})
	if !slices.Equal(found, []string{"a", "a/b"}) {
		t.Errorf("temp tree holds %q, want only a and a/b", found)
	}
	if _, err := os.Stat(filepath.Join(root, "a", "etc")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("../etc exists: %v", err)
	}
	after, _ := os.Stat(pkg)
	if !after.ModTime().Equal(before.ModTime()) || after.Size() != before.Size() {
		t.Error("the package file itself changed")
	}
}

// TestZipSlipInsecurePathSetting checks the outcome does not depend on
// archive/zip's own check for unsafe names (GODEBUG=zipinsecurepath=0 makes
// zip.NewReader report them with ErrInsecurePath).
func TestZipSlipInsecurePathSetting(t *testing.T) {
	for _, v := range []string{"zipinsecurepath=0", "zipinsecurepath=1"} {
		t.Setenv("GODEBUG", v)
		_, err := ValidateFile(testdata+"ZipSlip.zip", DefaultLimits)
		checkError(t, err, ErrPathEscape)
	}
}
