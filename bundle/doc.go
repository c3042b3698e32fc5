// Package bundle writes and reads taosync bundles: folders that carry data
// between central and its clients on a USB stick or over HTTP.
//
// A bundle folder holds manifest.json, its detached minisign signature
// manifest.json.minisig, and chunk files. Each chunk file is a payload
// compressed with zstd and then encrypted with age to the one X25519
// recipient the manifest names, and it is named by the lower-case hex
// SHA-256 of its stored bytes, so that `sha256sum` checks it without keys
// and `age -d -i KEY CHUNK | zstd -d` opens it by hand. A records payload is
// JSON Lines; a blob payload is opaque bytes.
//
// Writing: Create starts a bundle in a new hidden folder, BeginRecords/Record
// and BeginBlob/Blob add sections and chunks (compressed and encrypted by a
// pool of workers, in the order given), and Commit signs the manifest and
// publishes the bundle. CommitChunks writes the signature and the manifest
// into the hidden folder beside the chunks and waits until all of them and
// the folder are on the disk; Publish then renames the hidden folder to the
// bundle's name and syncs its parent. That rename is the commit point:
// readers skip hidden folders (Find refuses one given itself), so a write
// cut short leaves no bundle, never half of one. (A folder that lost its
// manifest some other way is reported incomplete: ErrIncomplete.)
//
// Reading: Find lists the bundle folders in a folder. Open checks, in this
// order and before any chunk is touched: the format version (an unknown
// major version is refused before the signature is looked for), the
// signature against the trusted keys, the manifest's fields and that it
// names its signer as sender, the recipient, and the expiry. Check verifies
// every chunk's presence, size and SHA-256 without decrypting. Read checks
// each chunk's size before decrypting it and the payload's size and
// SHA-256 after decompressing it (the payload is what the signature must
// vouch for; a chunk file whose bytes are not the ones the manifest names
// fails there, or in age's authentication, and is then reported as Check
// reports it), and hands payloads to its callback in manifest order; a
// chunk that fails a check is never handed over. Every refusal is an *Error that names the bundle folder (and the
// chunk) and wraps one of the exported sentinel errors. Reading never
// changes the bundle folder.
//
// Compatibility promise: the manifest's version is MAJOR.MINOR. A reader of
// major version 1 reads every 1.x bundle, ignoring the optional fields a
// newer minor version adds; a bundle of any other major version is refused
// with ErrUnsupportedVersion. Files and folders in a bundle folder that the
// manifest does not list are ignored, and so are unrelated files and
// folders beside it. No chunk file is ever larger than
// manifest.MaxChunkStored (far below FAT32's 4 GiB file size limit), nor its
// payload larger than manifest.MaxChunkPayload, so a reader needs a bounded
// amount of memory per chunk whatever the size of the bundle.
package bundle
