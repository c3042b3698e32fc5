package store

import (
	"fmt"
	"unsafe"

	"github.com/klauspost/compress/zstd"
)

// documentEncoder compresses the result documents central stores
// (executions.result_zst, migration 0005): zstd's fastest level makes a
// 4 KiB assessmentResult about 900 bytes, 3 % more than the default level
// for about a quarter less CPU time, and a row that small fits in its
// B-tree page. EncodeAll is safe for concurrent use.
var documentEncoder, _ = zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.SpeedFastest))

// compressDocument is a result document as central stores it. EncodeAll
// only reads its input: the string's bytes are given as they are, not
// copied first.
func compressDocument(doc string) []byte {
	return documentEncoder.EncodeAll(unsafe.Slice(unsafe.StringData(doc), len(doc)), nil)
}

// documentDecoder reads them back; DecodeAll is safe for concurrent use.
var documentDecoder, _ = zstd.NewReader(nil)

// storedDocument is a result document as central stored it: compressed in
// zst, or, received before migration 0005, as is in xml.
func storedDocument(xml string, zst []byte) (string, error) {
	if zst == nil {
		return xml, nil
	}
	doc, err := documentDecoder.DecodeAll(zst, nil)
	if err != nil {
		return "", fmt.Errorf("result document: %w", err)
	}
	return string(doc), nil
}
