package blobstore

import (
	"errors"
	"io"
)

// Content-defined chunking cuts a stream where a rolling hash of the last
// bytes matches a pattern, so that an insertion or a change early in a file
// moves only the cut points near it: re-publishing a package with a few
// changed files shares almost all of its chunks with the previous snapshot.
// This is the "gear" rolling hash with normalised chunk sizes (FastCDC).
//
// The sizes: 1 MiB chunks on average keep the number of chunk files of a
// large package in the thousands (FAT32 folders hold about 10,000 such
// names) while a changed file costs about one chunk; chunks are never
// smaller than MinChunk (but the last) nor larger than MaxChunk, which
// bounds the memory a chunk takes on either side.
const (
	MinChunk = 256 << 10
	AvgChunk = 1 << 20
	MaxChunk = 4 << 20
)

// Masks around the average: harder to match before it, easier after, which
// narrows the distribution of chunk sizes. The bit counts are log2(AvgChunk)
// plus and minus two. They take the top bits of the hash, which depend on
// the last 64 bytes: the gear hash shifts one bit a byte.
const (
	maskHard uint64 = (1<<22 - 1) << (64 - 22)
	maskEasy uint64 = (1<<18 - 1) << (64 - 18)
)

// gear maps a byte to a pseudo-random 64-bit value. It is derived from a
// fixed seed, so cut points are the same on every machine and in every
// version: changing it would not break anything but deduplication.
var gear = func() (g [256]uint64) {
	x := uint64(0x7461_6f73_796e_6331) // "taosync1"
	for i := range g {
		// splitmix64
		x += 0x9e3779b97f4a7c15
		z := x
		z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
		z = (z ^ (z >> 27)) * 0x94d049bb133111eb
		g[i] = z ^ (z >> 31)
	}
	return g
}()

// cut returns the length of the first chunk of b, where b holds at least
// MaxChunk bytes or the rest of the stream.
func cut(b []byte) int {
	if len(b) <= MinChunk {
		return len(b)
	}
	n := min(len(b), MaxChunk)
	avg := min(n, AvgChunk)
	var h uint64
	i := MinChunk
	for ; i < avg; i++ {
		h = h<<1 + gear[b[i]]
		if h&maskHard == 0 {
			return i + 1
		}
	}
	for ; i < n; i++ {
		h = h<<1 + gear[b[i]]
		if h&maskEasy == 0 {
			return i + 1
		}
	}
	return n
}

// Split reads r to its end and calls fn with each chunk in order. The slice
// passed to fn is reused after fn returns.
func Split(r io.Reader, fn func(chunk []byte) error) error {
	buf := make([]byte, 2*MaxChunk)
	start, end := 0, 0
	eof := false
	for {
		if !eof && end-start < MaxChunk {
			copy(buf, buf[start:end])
			end -= start
			start = 0
			n, err := io.ReadFull(r, buf[end:])
			end += n
			if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
				eof = true
			} else if err != nil {
				return err
			}
		}
		if start == end {
			return nil
		}
		n := cut(buf[start:end])
		if err := fn(buf[start : start+n]); err != nil {
			return err
		}
		start += n
	}
}
