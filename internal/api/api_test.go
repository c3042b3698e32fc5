package api

import (
	"encoding/json"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// TestOpenAPI holds docs/openapi.yaml to the wire: it lists exactly the
// paths the server routes, and names every header.
func TestOpenAPI(t *testing.T) {
	doc, err := os.ReadFile("../../docs/openapi.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var documented []string
	for _, m := range regexp.MustCompile(`(?m)^  (/\S*):$`).FindAllStringSubmatch(string(doc), -1) {
		documented = append(documented, m[1])
	}
	paths := []string{TokenPath}
	for _, p := range []string{HealthPath, PullPath, BundleFilePath("{bundle}", "{file}"), ResultPath("{bundle}"),
		ResultFilePath("{bundle}", "{file}"), CommitPath("{bundle}"), ReceiptsPath, ReportPath} {
		paths = append(paths, Prefix+p)
	}
	slices.Sort(documented)
	slices.Sort(paths)
	if !slices.Equal(documented, paths) {
		t.Errorf("docs/openapi.yaml documents the paths\n%q\nthe API has\n%q", documented, paths)
	}
	for _, h := range []string{HeaderVersion, HeaderOffset, HeaderSignatureSize, HeaderManifestSize} {
		if !strings.Contains(string(doc), h) {
			t.Errorf("docs/openapi.yaml does not name the header %s", h)
		}
	}
}

// TestBodies: the JSON of the bodies is the schemas' of docs/openapi.yaml.
func TestBodies(t *testing.T) {
	ref := &BundleRef{Bundle: "receipts-lyon-3-000001-8fd5e8bc", ID: "8fd5e8bc", Kind: "receipts", Seq: 1,
		Files: []File{{Name: "manifest.json", Size: 2, SHA256: "ab"}}}
	const refJSON = `{"bundle":"receipts-lyon-3-000001-8fd5e8bc","bundle_id":"8fd5e8bc","kind":"receipts","seq":1,"files":[{"name":"manifest.json","size":2,"sha256":"ab"}]}`
	for _, c := range []struct {
		v    any
		want string
	}{
		{Error{Message: "no such upload"}, `{"error":"no such upload"}`},
		{Health{Status: "ok"}, `{"status":"ok"}`},
		{PullRequest{}, `{"data_seq":0,"data_bundle":"","receipt_seq":0}`},
		{ReceiptList{Bundles: []BundleRef{}}, `{"bundles":[]}`},
		{UploadStatus{State: StatePartial, Offset: 5}, `{"state":"partial","offset":5}`},
		{UploadStatus{State: StateCommitted, CommitResponse: &CommitResponse{Outcome: "applied", Receipt: ref}},
			`{"state":"committed","offset":0,"outcome":"applied","receipt":` + refJSON + `}`},
		{CommitResponse{Outcome: "skipped"}, `{"outcome":"skipped"}`},
	} {
		b, err := json.Marshal(c.v)
		if err != nil {
			t.Fatal(err)
		}
		if string(b) != c.want {
			t.Errorf("%T: got %s, want %s", c.v, b, c.want)
		}
	}
}

func TestNames(t *testing.T) {
	chunk := strings.Repeat("0a", 32)
	for _, c := range []struct {
		name         string
		bundle, file bool
	}{
		{"data-lyon-3-000005-8fd5e8bc", true, false},
		{"results-lyon-3-1234567-8fd5e8bc", true, false},
		{"receipts-a.b_c-000001-00000000", true, false},
		{"data-lyon-3-00005-8fd5e8bc", false, false},   // seq under 6 digits
		{"data-lyon-3-000005-8FD5E8BC", false, false},  // upper-case id
		{"other-lyon-3-000005-8fd5e8bc", false, false}, // unknown kind
		{"data-../x-000005-8fd5e8bc", false, false},
		{"data-lyon-3-000005-8fd5e8bc/x", false, false},
		{"manifest.json", false, true},
		{"manifest.json.minisig", false, true},
		{chunk, false, true},
		{strings.ToUpper(chunk), false, false},
		{chunk[1:], false, false},
		{"../" + chunk[3:], false, false},
		{"", false, false},
	} {
		if got := ValidBundle(c.name); got != c.bundle {
			t.Errorf("ValidBundle(%q) = %v", c.name, got)
		}
		if got := ValidFile(c.name); got != c.file {
			t.Errorf("ValidFile(%q) = %v", c.name, got)
		}
	}
}
