package testfixture

import (
	"bytes"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/taosync/taosync/internal/api"
)

// Stream returns a result bundle's upload stream (signature, manifest,
// chunks in manifest order) and the sizes of its signature and manifest.
func Stream(t *testing.T, dir string) (stream []byte, sigSize, manSize int) {
	t.Helper()
	files := BundleFiles(t, dir)
	// BundleFiles ends with the signature and the manifest.
	n := len(files)
	files = append(files[n-2:], files[:n-2]...)
	for i, name := range files {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		switch i {
		case 0:
			sigSize = len(b)
		case 1:
			manSize = len(b)
		}
		stream = append(stream, b...)
	}
	return stream, sigSize, manSize
}

// PutStream sends body as the part of a bundle's stream from offset with
// the signature and manifest sizes given, committing if commit is set,
// and returns the answer.
func (f *Fixture) PutStream(token, bundle string, offset int64, body []byte, sigSize, manSize int, commit bool) (int, http.Header, []byte) {
	f.T.Helper()
	path := api.Prefix + "/results/" + bundle
	if commit {
		path += "?commit=true"
	}
	req := f.request(http.MethodPut, path, bytes.NewReader(body), "application/octet-stream")
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set(api.HeaderOffset, strconv.FormatInt(offset, 10))
	req.Header.Set(api.HeaderSignatureSize, strconv.Itoa(sigSize))
	req.Header.Set(api.HeaderManifestSize, strconv.Itoa(manSize))
	resp, b := f.send(req)
	return resp.StatusCode, resp.Header, b
}
