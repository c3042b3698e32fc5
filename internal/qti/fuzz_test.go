package qti

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"runtime/metrics"
	"slices"
	"strings"
	"testing"
)

// fuzzLimits are small so that no input can make Validate use much memory
// or time, whatever its headers claim.
var fuzzLimits = Limits{
	MaxArchiveBytes: 1 << 20,
	MaxEntries:      64,
	MaxEntryBytes:   256 << 10,
	MaxTotalBytes:   1 << 20,
	MaxRatio:        200,
}

// fuzzMaxAlloc bounds what one call may allocate under fuzzLimits.
const fuzzMaxAlloc = 64 << 20

func FuzzValidate(f *testing.F) {
	zips, err := filepath.Glob(testdata + "*.zip")
	if err != nil || len(zips) != 9 {
		f.Fatalf("want the nine packages in %s, got %d (%v)", testdata, len(zips), err)
	}
	for _, name := range zips {
		data, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Add(buildZip(f, goodPackage()))
	f.Add(buildZip(f, goodPackage("media/blank.bin", zeros(300<<10))))

	f.Fuzz(func(t *testing.T, data []byte) {
		allocs := []metrics.Sample{{Name: "/gc/heap/allocs:bytes"}}
		metrics.Read(allocs)
		before := allocs[0].Value.Uint64()
		p, err := Validate(bytes.NewReader(data), int64(len(data)), fuzzLimits)
		metrics.Read(allocs)
		if n := allocs[0].Value.Uint64() - before; n > fuzzMaxAlloc {
			t.Errorf("Validate allocated %d bytes (bound %d)", n, fuzzMaxAlloc)
		}
		if err != nil {
			if p != nil {
				t.Errorf("package %+v returned with error %v", p, err)
			}
			n := 0
			for _, s := range sentinels {
				if errors.Is(err, s) {
					n++
				}
			}
			if n != 1 {
				t.Errorf("error %q wraps %d sentinels, want 1", err, n)
			}
			checkMessage(t, err)
			return
		}
		switch {
		case !slices.IsSorted(p.Files) || len(slices.Compact(slices.Clone(p.Files))) != len(p.Files):
			t.Errorf("Files %q not sorted and unique", p.Files)
		case !slices.Contains(p.Files, p.Test) || !slices.Contains(p.Files, manifestName):
			t.Errorf("Files %q lack the test %q or the manifest", p.Files, p.Test)
		case len(p.Files) > fuzzLimits.MaxEntries || p.Bytes > fuzzLimits.MaxTotalBytes || p.Bytes < 0:
			t.Errorf("package %+v exceeds the limits", p)
		}
		for _, name := range p.Files {
			if why := badEntryName(name); why != "" {
				t.Errorf("accepted file %q %s", name, why)
			}
		}
	})
}

// FuzzPackageXML fuzzes the XML documents inside an otherwise valid
// package (the manifest, the test and an item), which random changes to a
// ZIP rarely reach past the checksums.
func FuzzPackageXML(f *testing.F) {
	withImage := strings.Replace(item, "/>", `><itemBody xml:base="../media/"><img src="pic.png" alt=""/></itemBody></assessmentItem>`, 1)
	f.Add(goodManifest, goodTest, item)
	f.Add(strings.Replace(goodManifest, "UTF-8", "ISO-8859-1", 1), strings.Replace(goodTest, "UTF-8", "ISO-8859-1", 1), withImage)
	f.Add(`<!DOCTYPE m [<!ENTITY x "y">]><manifest xmlns="http://www.imsglobal.org/xsd/imscp_v1p1" identifier="&x;"/>`, `<a xml:base="../"/>`, `<assessmentItem`)
	f.Add(goodManifest, goodTest, strings.Replace(withImage, `src="pic.png"`, `src="../../pic.png"`, 1))
	f.Fuzz(func(t *testing.T, manifest, test, item string) {
		data := buildZip(t, goodPackage("imsmanifest.xml", manifest, "tests/test.xml", test, "items/item2.xml", item))
		p, err := Validate(bytes.NewReader(data), int64(len(data)), fuzzLimits)
		if err != nil {
			if p != nil {
				t.Errorf("package %+v returned with error %v", p, err)
			}
			n := 0
			for _, s := range sentinels {
				if errors.Is(err, s) {
					n++
				}
			}
			if n != 1 {
				t.Errorf("error %q wraps %d sentinels, want 1", err, n)
			}
			checkMessage(t, err)
			return
		}
		if !slices.Contains(p.Files, p.Test) {
			t.Errorf("test %q not among the files %q", p.Test, p.Files)
		}
	})
}
