package qti

import (
	"archive/zip"
	"bufio"
	"compress/flate"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"hash/crc32"
	"io"
	"io/fs"
	"path"
	"sort"
	"strings"
)

const manifestName = "imsmanifest.xml"

// archive is a ZIP whose central directory has been checked.
type archive struct {
	r       io.ReaderAt
	size    int64
	lim     Limits
	entries []*zip.File          // every entry, in central directory order
	files   map[string]*zip.File // file entries by cleaned name
	total   int64                // uncompressed bytes of all entries
	inflate io.ReadCloser        // reused deflate decompressor (entries are read one at a time)
	// read holds the entries already read in full and found whole (the
	// XML documents parsed before verifyEntries), so that no entry is
	// decompressed twice.
	read map[*zip.File]bool
	// offset is where each entry's local header is in the archive.
	offset map[*zip.File]uint64
}

// Record signatures and fixed lengths from the ZIP application note.
const (
	sigLocal       = 0x04034b50
	sigCentral     = 0x02014b50
	sigEnd         = 0x06054b50
	sigEnd64       = 0x06064b50
	sigEnd64Loc    = 0x07064b50
	lenLocal       = 30
	lenCentral     = 46
	lenEnd         = 22
	lenEnd64       = 56
	lenEnd64Loc    = 20
	zip64ExtraID   = 0x0001
	maxCommentSize = 0xffff
)

// dirEnd is what the end of central directory records say.
type dirEnd struct {
	records  uint64
	cdOffset uint64
	cdSize   uint64
	cdEnd    int64 // where the central directory must end
}

// cdRecord is what this package reads itself from one central directory
// record, to cross-check archive/zip and to find the local header.
type cdRecord struct {
	name        string
	localOffset uint64
	csize       uint64
	usize       uint64
}

func unreadable(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrUnreadable}, args...)...)
}

// openArchive reads and checks the central directory: structure, entry
// names, sizes and ratios. It decompresses nothing.
func openArchive(r io.ReaderAt, size int64, lim Limits) (*archive, error) {
	end, err := readDirectoryEnd(r, size)
	if err != nil {
		return nil, err
	}
	if end.records > uint64(lim.MaxEntries) {
		return nil, fmt.Errorf("%w: archive has %d entries (limit %d)", ErrTooLarge, end.records, lim.MaxEntries)
	}
	zr, err := zip.NewReader(r, size)
	// With GODEBUG=zipinsecurepath=0 archive/zip reports unsafe names but
	// still returns the reader; the name checks below report them better.
	if err != nil && !(zr != nil && errors.Is(err, zip.ErrInsecurePath)) {
		return nil, unreadable("%v", err)
	}
	if len(zr.File) > lim.MaxEntries {
		return nil, fmt.Errorf("%w: archive has %d entries (limit %d)", ErrTooLarge, len(zr.File), lim.MaxEntries)
	}
	cd, err := readCentralDirectory(r, end)
	if err != nil {
		return nil, err
	}
	if len(cd) != len(zr.File) {
		return nil, unreadable("central directory lists %d entries but archive/zip read %d", len(cd), len(zr.File))
	}

	a := &archive{r: r, size: size, lim: lim, entries: zr.File, files: make(map[string]*zip.File, len(zr.File)),
		read: map[*zip.File]bool{}, offset: make(map[*zip.File]uint64, len(zr.File))}
	type span struct {
		start, end uint64
		name       string
	}
	spans := make([]span, 0, len(cd))
	type seen struct {
		name string
		dir  bool
	}
	byFold := make(map[string]seen, len(cd))
	for i, f := range zr.File {
		rec := cd[i]
		name := f.Name
		if why := badEntryName(name); why != "" {
			return nil, fmt.Errorf("%w: entry %s %s", ErrPathEscape, q(name), why)
		}
		if rec.name != name || rec.csize != f.CompressedSize64 || rec.usize != f.UncompressedSize64 {
			return nil, unreadable("entry %s: central directory does not read the same twice", q(name))
		}
		dataStart, err := checkLocalHeader(r, size, f, rec)
		if err != nil {
			return nil, err
		}
		spans = append(spans, span{rec.localOffset, dataStart + f.CompressedSize64, name})
		a.offset[f] = rec.localOffset

		isDir := strings.HasSuffix(name, "/")
		mode := f.Mode()
		switch {
		case mode&fs.ModeSymlink != 0:
			return nil, fmt.Errorf("%w: entry %s is a symbolic link", ErrPathEscape, q(name))
		case mode&fs.ModeType&^fs.ModeDir != 0:
			return nil, fmt.Errorf("%w: entry %s is not a regular file or folder", ErrPathEscape, q(name))
		case mode.IsDir() != isDir:
			return nil, unreadable("entry %s: its attributes and its name disagree on whether it is a folder", q(name))
		case f.Flags&0x1 != 0:
			return nil, unreadable("entry %s is encrypted", q(name))
		case f.Method != zip.Store && f.Method != zip.Deflate:
			return nil, unreadable("entry %s uses unsupported compression method %d", q(name), f.Method)
		case f.Method == zip.Store && f.CompressedSize64 != f.UncompressedSize64:
			return nil, unreadable("entry %s is stored but its sizes differ", q(name))
		case isDir && f.UncompressedSize64 != 0:
			return nil, unreadable("folder entry %s has content", q(name))
		}

		u, c := f.UncompressedSize64, f.CompressedSize64
		if u > uint64(lim.MaxEntryBytes) {
			return nil, fmt.Errorf("%w: entry %s is %d bytes uncompressed (limit %d)", ErrTooLarge, q(name), u, lim.MaxEntryBytes)
		}
		if c > uint64(size) {
			return nil, unreadable("entry %s claims %d compressed bytes in a %d-byte archive", q(name), c, size)
		}
		if u > ratioFloor && u/max(c, 1) > uint64(lim.MaxRatio) {
			return nil, fmt.Errorf("%w: entry %s expands %d times (limit %d)", ErrTooLarge, q(name), u/max(c, 1), lim.MaxRatio)
		}
		a.total += int64(u) // u <= MaxEntryBytes and total <= MaxTotalBytes: no overflow
		if a.total > lim.MaxTotalBytes {
			return nil, fmt.Errorf("%w: entries up to %s expand to %d bytes (limit %d)", ErrTooLarge, q(name), a.total, lim.MaxTotalBytes)
		}

		clean := path.Clean(strings.TrimSuffix(name, "/"))
		if clean == "." {
			if isDir {
				continue // "./": the root folder itself
			}
			return nil, fmt.Errorf("%w: entry %s names the package root", ErrPathEscape, q(name))
		}
		fold := strings.ToLower(clean)
		if s, ok := byFold[fold]; ok {
			switch {
			case s.name != clean:
				return nil, fmt.Errorf("%w: entries %s and %s differ only in case", ErrDuplicateEntry, q(s.name), q(clean))
			case s.dir != isDir:
				return nil, fmt.Errorf("%w: %s is both a file and a folder", ErrDuplicateEntry, q(clean))
			default:
				return nil, fmt.Errorf("%w: entry %s appears more than once", ErrDuplicateEntry, q(clean))
			}
		}
		byFold[fold] = seen{clean, isDir}
		if !isDir {
			a.files[clean] = f
		}
	}
	if a.total > ratioFloor && a.total/size > lim.MaxRatio {
		return nil, fmt.Errorf("%w: archive expands %d times (limit %d)", ErrTooLarge, a.total/size, lim.MaxRatio)
	}

	// A file may not also be used as a folder ("a" and "a/b"): on
	// extraction one would replace or block the other. All names with the
	// prefix "a/" sort together right after "a/".
	folds := make([]string, 0, len(byFold))
	for k := range byFold {
		folds = append(folds, k)
	}
	sort.Strings(folds)
	for _, k := range folds {
		s := byFold[k]
		if s.dir {
			continue
		}
		i := sort.SearchStrings(folds, k+"/")
		if i < len(folds) && strings.HasPrefix(folds[i], k+"/") {
			return nil, fmt.Errorf("%w: entry %s uses file %s as a folder", ErrDuplicateEntry, q(byFold[folds[i]].name), q(s.name))
		}
	}

	// Entries may not share bytes: overlapping entries are how
	// non-recursive zip bombs multiply one compressed block. They must
	// also all lie before the central directory.
	sort.Slice(spans, func(i, j int) bool { return spans[i].start < spans[j].start })
	for i, s := range spans {
		if s.end > end.cdOffset {
			return nil, unreadable("entry %s overlaps the central directory", q(s.name))
		}
		if i > 0 && s.start < spans[i-1].end {
			return nil, unreadable("entries %s and %s overlap", q(spans[i-1].name), q(s.name))
		}
	}
	return a, nil
}

// readDirectoryEnd finds the end of central directory record (and the
// ZIP64 one if present). It refuses multi-volume archives and any data
// before the archive or between the central directory and its end record.
func readDirectoryEnd(r io.ReaderAt, size int64) (dirEnd, error) {
	var end dirEnd
	if size < lenEnd {
		return end, unreadable("%d bytes is too short for a zip archive", size)
	}
	n := min(size, lenEnd+maxCommentSize)
	buf := make([]byte, n)
	if err := readAt(r, buf, size-n); err != nil {
		return end, err
	}
	p := -1
	for i := len(buf) - lenEnd; i >= 0; i-- {
		if le32(buf[i:]) == sigEnd && i+lenEnd+int(le16(buf[i+20:])) == len(buf) {
			p = i
			break
		}
	}
	if p < 0 {
		return end, unreadable("no end of central directory record (truncated, not a zip archive, or data after it)")
	}
	b := buf[p:]
	eocdOffset := size - n + int64(p)
	if le16(b[4:]) != 0 || le16(b[6:]) != 0 || le16(b[8:]) != le16(b[10:]) {
		return end, unreadable("multi-volume archives are not supported")
	}
	end = dirEnd{
		records:  uint64(le16(b[10:])),
		cdSize:   uint64(le32(b[12:])),
		cdOffset: uint64(le32(b[16:])),
		cdEnd:    eocdOffset,
	}
	if eocdOffset >= lenEnd64Loc {
		loc := make([]byte, lenEnd64Loc)
		if err := readAt(r, loc, eocdOffset-lenEnd64Loc); err != nil {
			return end, err
		}
		if le32(loc) == sigEnd64Loc {
			if le32(loc[4:]) != 0 || le32(loc[16:]) > 1 {
				return end, unreadable("multi-volume archives are not supported")
			}
			off := le64(loc[8:])
			if off > uint64(eocdOffset-lenEnd64Loc-lenEnd64) {
				return end, unreadable("zip64 end record is out of place")
			}
			rec := make([]byte, lenEnd64)
			if err := readAt(r, rec, int64(off)); err != nil {
				return end, err
			}
			if le32(rec) != sigEnd64 || off+12+le64(rec[4:]) != uint64(eocdOffset-lenEnd64Loc) {
				return end, unreadable("zip64 end record is corrupt")
			}
			if le32(rec[16:]) != 0 || le32(rec[20:]) != 0 || le64(rec[24:]) != le64(rec[32:]) {
				return end, unreadable("multi-volume archives are not supported")
			}
			if end.records == 0xffff || end.cdSize == 0xffffffff || end.cdOffset == 0xffffffff {
				end.records, end.cdSize, end.cdOffset = le64(rec[32:]), le64(rec[40:]), le64(rec[48:])
			}
			end.cdEnd = int64(off)
		}
	}
	if end.cdOffset > uint64(end.cdEnd) || end.cdOffset+end.cdSize != uint64(end.cdEnd) {
		return end, unreadable("central directory is out of place (data before the archive or after the directory)")
	}
	if end.records > end.cdSize/lenCentral {
		return end, unreadable("central directory is too small for %d entries", end.records)
	}
	return end, nil
}

// readCentralDirectory reads every central directory record itself.
func readCentralDirectory(r io.ReaderAt, end dirEnd) ([]cdRecord, error) {
	br := bufio.NewReader(io.NewSectionReader(r, int64(end.cdOffset), int64(end.cdSize)))
	recs := make([]cdRecord, 0, min(end.records, 1024))
	hdr := make([]byte, lenCentral)
	for i := uint64(0); i < end.records; i++ {
		if _, err := io.ReadFull(br, hdr); err != nil {
			return nil, unreadable("central directory is truncated")
		}
		if le32(hdr) != sigCentral {
			return nil, unreadable("central directory record %d is corrupt", i)
		}
		if le16(hdr[34:]) != 0 {
			return nil, unreadable("multi-volume archives are not supported")
		}
		usize, csize, off := uint64(le32(hdr[24:])), uint64(le32(hdr[20:])), uint64(le32(hdr[42:]))
		nameLen, extraLen, commentLen := int(le16(hdr[28:])), int(le16(hdr[30:])), int(le16(hdr[32:]))
		name := make([]byte, nameLen)
		extra := make([]byte, extraLen)
		if _, err := io.ReadFull(br, name); err != nil {
			return nil, unreadable("central directory is truncated")
		}
		if _, err := io.ReadFull(br, extra); err != nil {
			return nil, unreadable("central directory is truncated")
		}
		if _, err := br.Discard(commentLen); err != nil {
			return nil, unreadable("central directory is truncated")
		}
		needU, needC, needO := usize == 0xffffffff, csize == 0xffffffff, off == 0xffffffff
		for e := extra; len(e) >= 4 && (needU || needC || needO); {
			id, n := le16(e), int(le16(e[2:]))
			if 4+n > len(e) {
				break
			}
			field := e[4 : 4+n]
			e = e[4+n:]
			if id != zip64ExtraID {
				continue
			}
			for _, v := range []struct {
				need *bool
				val  *uint64
			}{{&needU, &usize}, {&needC, &csize}, {&needO, &off}} {
				if *v.need && len(field) >= 8 {
					*v.val, *v.need, field = le64(field), false, field[8:]
				}
			}
		}
		if needU || needC || needO {
			return nil, unreadable("entry %s lacks its zip64 sizes", q(string(name)))
		}
		recs = append(recs, cdRecord{name: string(name), localOffset: off, csize: csize, usize: usize})
	}
	if _, err := br.ReadByte(); err != io.EOF {
		return nil, unreadable("central directory holds more than its %d records", end.records)
	}
	return recs, nil
}

// checkLocalHeader checks that the entry's local header names the same
// file as the central directory (extractors that stream the archive read
// only local headers) and returns where the entry's data starts.
func checkLocalHeader(r io.ReaderAt, size int64, f *zip.File, rec cdRecord) (uint64, error) {
	if size < lenLocal || rec.localOffset > uint64(size-lenLocal) {
		return 0, unreadable("entry %s: local header is out of the archive", q(f.Name))
	}
	hdr := make([]byte, lenLocal)
	if err := readAt(r, hdr, int64(rec.localOffset)); err != nil {
		return 0, err
	}
	if le32(hdr) != sigLocal {
		return 0, unreadable("entry %s: local header is corrupt", q(f.Name))
	}
	nameLen, extraLen := uint64(le16(hdr[26:])), uint64(le16(hdr[28:]))
	if rec.localOffset+lenLocal+nameLen > uint64(size) {
		return 0, unreadable("entry %s: local header is out of the archive", q(f.Name))
	}
	name := make([]byte, nameLen)
	if err := readAt(r, name, int64(rec.localOffset+lenLocal)); err != nil {
		return 0, err
	}
	if string(name) != f.Name {
		if why := badEntryName(string(name)); why != "" {
			return 0, fmt.Errorf("%w: entry %s is named %s in its local header, which %s", ErrPathEscape, q(f.Name), q(string(name)), why)
		}
		return 0, unreadable("entry %s is named %s in its local header", q(f.Name), q(string(name)))
	}
	start := rec.localOffset + lenLocal + nameLen + extraLen
	got, err := f.DataOffset()
	if err != nil || got < 0 || uint64(got) != start {
		return 0, unreadable("entry %s: local header is inconsistent", q(f.Name))
	}
	return start, nil
}

// verifyEntries decompresses every entry not yet read in full, checking
// its length and CRC-32 against its header, and recounts the total.
func (a *archive) verifyEntries() error {
	var total int64
	buf := make([]byte, 32<<10)
	for _, f := range a.entries {
		if a.read[f] {
			total += int64(f.UncompressedSize64) // its length was checked
			continue
		}
		e, err := a.open(f)
		if err != nil {
			return err
		}
		_, err = io.CopyBuffer(io.Discard, e, buf)
		e.Close()
		if err != nil {
			return err
		}
		total += int64(e.n)
		if total > a.lim.MaxTotalBytes {
			return fmt.Errorf("%w: entries up to %s expand to %d bytes (limit %d)", ErrTooLarge, q(f.Name), total, a.lim.MaxTotalBytes)
		}
	}
	a.total = total
	return nil
}

// entryReader decompresses one entry without trusting its header: it reads
// through an io.LimitReader one byte past the declared size, counts, and
// at the end checks the length, the CRC-32 and that the compressed stream
// used all of the entry's compressed bytes.
type entryReader struct {
	a   *archive
	f   *zip.File
	src io.Reader     // LimitReader over the decompressed data
	raw *bufio.Reader // compressed bytes (deflate only)
	dec io.ReadCloser // deflate decompressor
	crc hash.Hash32
	n   uint64
	err error
}

func (a *archive) open(f *zip.File) (*entryReader, error) {
	raw, err := f.OpenRaw()
	if err != nil {
		return nil, unreadable("entry %s: %v", q(f.Name), err)
	}
	e := &entryReader{a: a, f: f, crc: crc32.NewIEEE()}
	var data io.Reader = raw
	if f.Method == zip.Deflate {
		e.raw = bufio.NewReader(raw)
		if a.inflate == nil {
			a.inflate = flate.NewReader(e.raw)
		} else if err := a.inflate.(flate.Resetter).Reset(e.raw, nil); err != nil {
			return nil, unreadable("entry %s: %v", q(f.Name), err)
		}
		e.dec = a.inflate
		data = e.dec
	}
	e.src = io.LimitReader(data, int64(f.UncompressedSize64)+1)
	return e, nil
}

func (e *entryReader) Read(p []byte) (int, error) {
	if e.err != nil {
		return 0, e.err
	}
	n, err := e.src.Read(p)
	e.n += uint64(n)
	if e.n > e.f.UncompressedSize64 {
		e.err = fmt.Errorf("%w: entry %s expands beyond the %d bytes its header declares", ErrTooLarge, q(e.f.Name), e.f.UncompressedSize64)
		return 0, e.err
	}
	e.crc.Write(p[:n])
	switch {
	case err == io.EOF:
		switch {
		case e.n < e.f.UncompressedSize64:
			e.err = unreadable("entry %s is shorter than its header declares (%d of %d bytes)", q(e.f.Name), e.n, e.f.UncompressedSize64)
		case e.crc.Sum32() != e.f.CRC32:
			e.err = unreadable("entry %s fails its checksum", q(e.f.Name))
		case e.raw != nil && !atEOF(e.raw):
			e.err = unreadable("entry %s has data after its compressed stream", q(e.f.Name))
		default:
			e.err = io.EOF
			e.a.read[e.f] = true
			return n, io.EOF
		}
		return 0, e.err
	case err != nil:
		e.err = unreadable("entry %s: %v", q(e.f.Name), err)
		return 0, e.err
	}
	return n, nil
}

func (e *entryReader) Close() error {
	if e.dec != nil {
		return e.dec.Close()
	}
	return nil
}

func atEOF(r *bufio.Reader) bool {
	_, err := r.ReadByte()
	return err == io.EOF
}

func readAt(r io.ReaderAt, buf []byte, off int64) error {
	n, err := r.ReadAt(buf, off)
	if n == len(buf) {
		return nil
	}
	if err == nil || err == io.EOF {
		err = io.ErrUnexpectedEOF
	}
	return unreadable("reading %d bytes at offset %d: %v", len(buf), off, err)
}

func le16(b []byte) uint16 { return binary.LittleEndian.Uint16(b) }
func le32(b []byte) uint32 { return binary.LittleEndian.Uint32(b) }
func le64(b []byte) uint64 { return binary.LittleEndian.Uint64(b) }

// q quotes a name for an error message: one line whatever it contains, and
// shortened if it is very long.
func q(s string) string {
	const limit = 200
	if len(s) > limit {
		return fmt.Sprintf("%q...", s[:limit])
	}
	return fmt.Sprintf("%q", s)
}
