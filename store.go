package taosync

import (
	"context"

	"github.com/taosync/taosync/bundle"
)

// The interfaces below are what the stores implement for the exporter and
// the importer: central's store is a DataSource, a ReceiptSource and a
// ResultTarget; a client's store is a DataTarget and gives ResultExports.

// DataSource starts data exports.
type DataSource interface {
	BeginDataExport(ctx context.Context, client string) (DataExport, error)
}

// DataExport is one export in progress: a consistent view of the client's
// scope, and the client's recorded state.
type DataExport interface {
	Recipient() Recipient
	// Records calls fn with each record of type t the bundle carries: every
	// entity in the client's scope (in a full snapshot), or those the
	// client lacks or holds in an older version (in a delta), then every
	// entity the client holds that was deleted or left its scope.
	Records(ctx context.Context, t Type, full bool, fn func(Record) error) error
	// Chunks calls fn with the content hash of each package chunk of the
	// deliveries in scope that the client has not been sent (all of them
	// when full), once each, package by package in the package's order (so
	// that the client can hash each package as its chunks arrive), and
	// Chunk reads one, checked against its hash.
	Chunks(ctx context.Context, full bool, fn func(hash string) error) error
	Chunk(hash string) ([]byte, error)
	// Snapshot calls fn with the chunks, in order, of the full snapshot
	// of type t that an earlier export for the client's organisation wrote
	// and kept (Keep), and returns what they change for the client. ok is
	// false, and fn is not called, unless one is kept of the data as it is
	// now, in chunks of chunkRecords records of RecordFormat.
	Snapshot(ctx context.Context, t Type, chunkRecords int, fn func(bundle.Compressed) error) (n Counts, ok bool, err error)
	// Keep keeps the chunks of the full snapshot of type t that this
	// export wrote, for Snapshot, if the export is committed.
	Keep(ctx context.Context, t Type, chunkRecords int, chunks []bundle.Compressed) error
	// Receipts calls fn with the receipts the client has not reported
	// holding.
	Receipts(ctx context.Context, fn func(Receipt) error) error
	// Commit records the bundle as the client's state for types, calls
	// publish, and makes the record durable only if publish succeeds.
	Commit(ctx context.Context, res *bundle.Written, types []Type, chunks []string, h HistoryEntry, publish func() error) error
	// Rollback abandons the export; it is a no-op after Commit.
	Rollback() error
}

// ReceiptSource gives central's receipts for a client.
type ReceiptSource interface {
	Recipient(ctx context.Context, client string) (Recipient, error)
	// Receipts calls fn with the receipts of batches from..to, in order.
	Receipts(ctx context.Context, client string, from, to uint64, fn func(Receipt) error) error
}

// ResultExport is one result export in progress on a client: the
// executions to send are already marked packaged.
type ResultExport interface {
	// Seq is the bundle's place on the client's result stream.
	Seq() uint64
	// Count is the number of executions packaged.
	Count() int64
	// Prev is the manifest hash of the previous result bundle.
	Prev(ctx context.Context) (string, error)
	Each(ctx context.Context, fn func(OutgoingExecution) error) error
	// Commit marks them sent, calls publish, and makes that durable only if
	// publish succeeds.
	Commit(ctx context.Context, hash string, h HistoryEntry, publish func() error) error
}

// StreamState is what the stream checks read: the data state, and the
// bundles applied.
type StreamState interface {
	DataState(ctx context.Context) (DataState, error)
	// Applied reports whether the bundle with this id was applied.
	Applied(ctx context.Context, bundleID string) (bool, error)
}

// DataTarget is where data bundles are applied (a client's store).
type DataTarget interface {
	StreamState
	// BeginApply starts applying a bundle; full says it is a full
	// snapshot, whose types' contents it replaces; packageChunks are the
	// content hashes of the package chunks it carries, in its order.
	BeginApply(ctx context.Context, full bool, packageChunks []string) (DataApply, error)
}

// DataApply is one bundle being applied, in one transaction.
type DataApply interface {
	// StreamState reads the state inside the transaction, which holds the
	// database's write lock: another import may have moved it since the
	// checks made before the transaction began.
	StreamState
	// Upsert stores an entity and says whether it was created, updated or
	// already held in that version.
	Upsert(ctx context.Context, t Type, id string, version int64, data []byte) (Change, error)
	// Delete removes an entity and says whether it was there.
	Delete(ctx context.Context, t Type, id string) (bool, error)
	// Sweep deletes the entities of type t not upserted since the apply
	// began (a full snapshot's types) and counts them; it is called once
	// per type, after the type's records.
	Sweep(ctx context.Context, t Type) (int64, error)
	// Receipt applies one of central's receipts: the execution revision it
	// names becomes acknowledged, and Receipt says whether it was not
	// already. A receipt for an execution the client never had fails with
	// ErrUnknownExecution. A receipt naming a result bundle of no
	// execution acknowledges that bundle: its batch becomes held, and
	// Receipt says whether it was not already.
	Receipt(ctx context.Context, r Receipt) (bool, error)
	// StoreChunk stores a package chunk by its content hash, which the
	// caller has checked data against. Chunks are content-addressed
	// files: storing one early is harmless if the transaction later rolls
	// back. It is called concurrently, in any order.
	StoreChunk(hash string, data []byte) error
	// ChunkStored is told of each package chunk once StoreChunk has
	// stored it, in the bundle's order, with the same checked data.
	ChunkStored(ctx context.Context, hash string, data []byte) error
	// CheckPackages checks that the package of every delivery upserted is
	// complete and matches its hash.
	CheckPackages(ctx context.Context) error
	// Commit makes the chunks stored durable, records the bundle as
	// applied with the new state and the history entry, and commits. It
	// never moves the data sequence backwards: a data bundle whose seq is
	// not above the state's fails with ErrRollback.
	Commit(ctx context.Context, b *bundle.Bundle, h HistoryEntry) error
	Rollback() error
}

// ResultTarget is where central stores the results of its clients.
type ResultTarget interface {
	// BeginResults starts storing a bundle of the client's, with the state
	// it carries: new receipt batches are numbered above the one up to
	// which it says the client holds every receipt. A state naming numbers
	// central never made for the client is refused.
	BeginResults(ctx context.Context, client string, state ClientState) (ResultApply, error)
}

// ResultApply is one result bundle being stored, in one transaction.
type ResultApply interface {
	// Received returns the receipt batch of a bundle already stored.
	Received(ctx context.Context, bundleID string) (batch uint64, ok bool, err error)
	// Prepare is called with each chunk's execution revisions in the
	// bundle reader's workers, concurrently and in any order, and Put gets
	// what it returns: work that needs no order (compressing documents)
	// runs there, beside the statements of the chunks before.
	Prepare(xs []OutgoingExecution) any
	// Put stores the execution revisions of one chunk, each once, and
	// says how it took each, in order. An execution naming a test
	// centre, test taker or delivery outside the client's scope, or a
	// test taker not eligible for the delivery, fails it with an
	// *ExecutionError wrapping ErrOutOfScope.
	Put(ctx context.Context, xs []OutgoingExecution, prepared any, bundleID string) (statuses []string, err error)
	// Commit records the bundle and the client's state and returns the
	// receipt batch that answers the bundle.
	Commit(ctx context.Context, b *bundle.Bundle, state ClientState, h HistoryEntry) (uint64, error)
	Rollback() error
}
