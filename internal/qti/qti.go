// Package qti validates an IMS QTI 2.x content package (a ZIP file) before
// central stores it as a delivery's test package.
//
// Validate and ValidateFile promise that a package they accept:
//
//   - is a well-formed ZIP archive whose central directory and local headers
//     agree, with no data before it, no overlapping entries, no encrypted
//     entries and only stored or deflated entries; every entry was
//     decompressed in full, is exactly as long as its header says and
//     matches its CRC-32;
//   - stays within the given Limits (archive size, entry count, entry and
//     total uncompressed size, compression ratio), checked from the headers
//     before anything is decompressed and again while reading;
//   - has only entries with safe names: relative, valid UTF-8, without "..",
//     backslashes, drive letters, NUL or other control characters, no
//     symbolic links or other special files, and no two entries that would
//     land on the same file when extracted (same name, same name ignoring
//     case, or a file that is also used as a folder);
//   - has an imsmanifest.xml at its root that is well-formed XML, without a
//     DTD, whose root element is an IMS Content Packaging manifest with an
//     identifier and exactly one resources element;
//   - declares exactly one assessmentTest resource;
//   - has every href of a resource, every file href and every xml:base
//     inside the package (no URL scheme, host, absolute path or ".."), every
//     such file present in the ZIP, and every dependency naming a declared
//     resource;
//   - has an assessmentTest document that is well-formed XML with
//     assessmentTest as its root, and every assessmentItemRef and
//     assessmentSectionRef href in it names a file present in the ZIP,
//     resolved from the test's folder without leaving the package; the
//     section documents so referenced are checked the same way, with
//     assessmentSection as their root; every item reference has an
//     identifier, unique within the test;
//   - has every item the test references declared as an assessmentItem
//     resource of the manifest, and well-formed XML whose root is the
//     assessmentItem of the test's QTI version (assessmentItem in a QTI
//     2.x namespace, qti-assessment-item in QTI 3.0's) with the attributes
//     the QTI schemas require of it (identifier, title, and adaptive and
//     timeDependent, or time-dependent, as booleans), no text directly in
//     the root, and for QTI 2.x only the children the schema allows there,
//     in its order (declarations, templateProcessing, stylesheets,
//     itemBody, responseProcessing, modalFeedback), whose variable
//     declarations have the attributes and values the schema allows; every
//     file an item needs when it is shown (img src, object data,
//     stylesheet href, audio, video, source and track src, xi:include
//     href) is in the ZIP, resolved from the item's folder without leaving
//     the package, or else from the package root if the item's resource
//     or one it depends on declares that file; an inline data: URL aside,
//     no URL may name another site.
//
// The documents are not validated against the QTI XML schemas: the Go
// libraries that validate XSD bind libxml2 through cgo, which would make
// the one static binary depend on a C library on every platform, read
// each document into memory whole, and need the QTI schemas and those
// they import (MathML, XInclude, SSML, APIP) shipped inside it with their
// licences. The checks above are those a delivery engine needs to show
// every item; what they leave out (an interaction's content model, say)
// is the authoring tool's to get right.
//
// Validation never writes anything: the archive is read through an
// io.ReaderAt, every entry is decompressed once, into a checksum and, for
// the XML documents it parses, a streaming decoder reading through a
// bounded reader. Errors about a document name it and the line; every
// error wraps exactly one of the sentinel errors below; test with
// errors.Is.
package qti

import (
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
)

// Sentinel errors. The errors returned by Validate wrap one of them with a
// one-line, lower-case message naming the offending path.
var (
	// ErrUnreadable: not a ZIP archive, truncated, corrupt, or using a ZIP
	// feature this package refuses (encryption, other compression methods,
	// data before the archive, overlapping entries, headers that disagree).
	ErrUnreadable = errors.New("qti: unreadable archive")
	// ErrNotContentPackage: there is no imsmanifest.xml at the root.
	ErrNotContentPackage = errors.New("qti: not a content package")
	// ErrBadManifest: imsmanifest.xml is not well-formed XML, has a DTD,
	// is not an IMS Content Packaging manifest, or does not declare as an
	// item resource an item the test references.
	ErrBadManifest = errors.New("qti: bad manifest")
	// ErrNoTest: no resource has an assessmentTest type.
	ErrNoTest = errors.New("qti: no assessmentTest resource")
	// ErrManyTests: more than one resource has an assessmentTest type.
	ErrManyTests = errors.New("qti: more than one assessmentTest resource")
	// ErrMissingFile: an href, a dependency or a file an item needs names
	// something that is not in the package.
	ErrMissingFile = errors.New("qti: missing file")
	// ErrPathEscape: an entry name or an href is absolute, contains "..",
	// a backslash, a drive letter, a NUL or another control character, or
	// names something outside the package (a URL, a symbolic link).
	ErrPathEscape = errors.New("qti: path escapes the package")
	// ErrTooLarge: one of the Limits is exceeded.
	ErrTooLarge = errors.New("qti: package too large")
	// ErrDuplicateEntry: two entries would be extracted to the same file:
	// the same cleaned name, names that differ only in case, or a name used
	// both as a file and as a folder.
	ErrDuplicateEntry = errors.New("qti: duplicate entry")
	// ErrBadTest: the assessmentTest document (or a section document it
	// references) is not well-formed XML, has a DTD, its root element is
	// not assessmentTest (assessmentSection), or an item reference has no
	// identifier or one used before.
	ErrBadTest = errors.New("qti: bad assessmentTest")
	// ErrBadItem: an item the test references is not well-formed XML,
	// has a DTD, its root element is not the assessmentItem of the test's
	// QTI version, or it lacks an attribute QTI requires of it.
	ErrBadItem = errors.New("qti: bad assessmentItem")
)

// Limits bound what a package may expand to. A zero field means "use the
// value from DefaultLimits"; a negative field is an error.
type Limits struct {
	MaxArchiveBytes int64 // size of the ZIP file itself
	MaxEntries      int   // number of entries
	MaxEntryBytes   int64 // uncompressed size of one entry
	MaxTotalBytes   int64 // uncompressed size of all entries
	MaxRatio        int64 // uncompressed/compressed ratio of any entry (zip bomb)
}

// DefaultLimits are generous enough for real tests that carry audio and
// video, and small enough that a hostile package cannot fill a test
// centre's disk or memory.
var DefaultLimits = Limits{
	// 2 GiB: a test with a few hours of video fits; anything larger is far
	// more likely a mistake (a whole item bank, a disk image) than an exam.
	// It also keeps every offset well below the 4 GiB ZIP32 limit.
	MaxArchiveBytes: 2 << 30,
	// 20000: a large test of 2000 items with several assets each; the
	// central directory of that many entries is a few megabytes of memory.
	MaxEntries: 20000,
	// 1 GiB: the largest single media file (a long video) a test needs.
	MaxEntryBytes: 1 << 30,
	// 4 GiB: what a test centre must have free to extract one package.
	// Media is already compressed (ratio about 1), so a full 2 GiB archive
	// expands to little more than 2 GiB; 4 GiB leaves room for text.
	MaxTotalBytes: 4 << 30,
	// 200: deflate can reach about 1030:1. Real XML, HTML, CSS and
	// JavaScript compress 3:1 to 20:1 and media about 1:1, so 200 leaves
	// ten times headroom over the most repetitive real content while
	// refusing bombs. It applies to entries over ratioFloor bytes and to
	// the archive as a whole.
	MaxRatio: 200,
}

// ratioFloor is the uncompressed size at or below which an entry is not
// checked against MaxRatio: a few kilobytes of padding or whitespace can
// compress a thousandfold without being a threat, and the size limits bound
// them anyway.
const ratioFloor = 64 << 10

// maxXMLBytes bounds each XML document this package parses (the manifest,
// the assessmentTest, its sections and items), on top of MaxEntryBytes, so
// that parsing cannot use more than a bounded amount of memory.
const maxXMLBytes = 64 << 20

// maxXMLDepth bounds element nesting in the parsed XML documents.
const maxXMLDepth = 256

// Package describes a validated content package.
type Package struct {
	Identifier string   // manifest identifier
	Test       string   // href of the assessmentTest resource, as a path in the ZIP
	Title      string   // the test's title if the assessmentTest XML has one
	Files      []string // every file entry in the ZIP, sorted, cleaned
	Items      int      // number of assessmentItem resources
	Bytes      int64    // total uncompressed bytes
}

func (l Limits) withDefaults() (Limits, error) {
	d := DefaultLimits
	for _, f := range []struct {
		name string
		v    *int64
		def  int64
	}{
		{"MaxArchiveBytes", &l.MaxArchiveBytes, d.MaxArchiveBytes},
		{"MaxEntryBytes", &l.MaxEntryBytes, d.MaxEntryBytes},
		{"MaxTotalBytes", &l.MaxTotalBytes, d.MaxTotalBytes},
		{"MaxRatio", &l.MaxRatio, d.MaxRatio},
	} {
		switch {
		case *f.v < 0:
			return l, fmt.Errorf("qti: invalid limits: %s is negative", f.name)
		case *f.v == 0:
			*f.v = f.def
		}
	}
	switch {
	case l.MaxEntries < 0:
		return l, fmt.Errorf("qti: invalid limits: MaxEntries is negative")
	case l.MaxEntries == 0:
		l.MaxEntries = d.MaxEntries
	}
	return l, nil
}

// Validate checks the content package of the given size read from r
// against lim and describes it. It reads only through r and writes nothing.
func Validate(r io.ReaderAt, size int64, lim Limits) (*Package, error) {
	lim, err := lim.withDefaults()
	if err != nil {
		return nil, err
	}
	switch {
	case r == nil:
		return nil, fmt.Errorf("%w: no reader", ErrUnreadable)
	case size <= 0:
		return nil, fmt.Errorf("%w: archive is empty", ErrUnreadable)
	case size > lim.MaxArchiveBytes:
		return nil, fmt.Errorf("%w: archive is %d bytes (limit %d)", ErrTooLarge, size, lim.MaxArchiveBytes)
	}
	a, err := openArchive(r, size, lim)
	if err != nil {
		return nil, err
	}
	if _, ok := a.files[manifestName]; !ok {
		return nil, fmt.Errorf("%w: no %s at the root of the archive", ErrNotContentPackage, manifestName)
	}
	m, err := parseManifest(a)
	if err != nil {
		return nil, err
	}
	test, err := m.check(a)
	if err != nil {
		return nil, err
	}
	title, refs, err := checkTest(a, test)
	if err != nil {
		return nil, err
	}
	if err := checkItems(a, m, testTypes[test.typ], refs); err != nil {
		return nil, err
	}
	// Last, so that the XML documents read in full above are not
	// decompressed again.
	if err := a.verifyEntries(); err != nil {
		return nil, err
	}
	files := make([]string, 0, len(a.files))
	for name := range a.files {
		files = append(files, name)
	}
	sort.Strings(files)
	return &Package{
		Identifier: m.identifier,
		Test:       test.href,
		Title:      title,
		Files:      files,
		Items:      m.items,
		Bytes:      a.total,
	}, nil
}

// ValidateFile validates the content package in the regular file at path.
func ValidateFile(path string, lim Limits) (*Package, error) {
	// Refuse anything but a regular file before opening it: opening a FIFO
	// or a device could block or never end.
	st, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrUnreadable, err)
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("%w: %q is not a regular file", ErrUnreadable, path)
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrUnreadable, err)
	}
	defer f.Close()
	st, err = f.Stat()
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrUnreadable, err)
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("%w: %q is not a regular file", ErrUnreadable, path)
	}
	return Validate(f, st.Size(), lim)
}
