package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/taosync/taosync"
	"github.com/taosync/taosync/internal/blobstore"
	"github.com/taosync/taosync/internal/load"
)

// PackageRef is the value of a delivery's package field: the published
// snapshot's hash, size and chunks, and the href of its assessmentTest.
type PackageRef struct {
	blobstore.Snapshot
	Test string `json:"test"`
}

// Published says what publishing did.
type Published struct {
	Delivery string `json:"delivery"`
	SHA256   string `json:"sha256"`
	Size     int64  `json:"size"`
	Chunks   int    `json:"chunks"`
	// Shared counts the chunks the previous snapshot already had.
	Shared    int  `json:"shared_chunks"`
	Unchanged bool `json:"unchanged"`
}

// Publish records a package snapshot (its chunks already stored) and links
// it to the delivery, which must exist. Publishing the same bytes again
// changes nothing.
func (c *CentralDB) Publish(ctx context.Context, delivery string, ref PackageRef) (Published, error) {
	res := Published{Delivery: delivery, SHA256: ref.Hash, Size: ref.Size, Chunks: len(ref.Chunks)}
	err := c.DB.Tx(ctx, func(tx *sql.Tx) error {
		var data []byte
		err := tx.QueryRowContext(ctx, "SELECT data FROM entities WHERE type = 'delivery' AND id = ? AND deleted = 0", delivery).Scan(&data)
		if errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("%w %q (load it with taosync central load --type delivery first)", ErrUnknownDelivery, delivery)
		}
		if err != nil {
			return err
		}
		fields, err := decodeObject(data)
		if err != nil {
			return err
		}
		if old, ok := fields[taosync.PackageField]; ok {
			var prev PackageRef
			if err := json.Unmarshal(old, &prev); err == nil {
				have := map[string]bool{}
				for _, ch := range prev.Chunks {
					have[ch.Hash] = true
				}
				for _, ch := range ref.Chunks {
					if have[ch.Hash] {
						res.Shared++
					}
				}
				if prev.Hash == ref.Hash {
					res.Unchanged = true
					return nil
				}
			}
		}
		chunks, err := json.Marshal(ref.Chunks)
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO packages (sha256, size, chunks, test, published_at)
			VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`, ref.Hash, ref.Size, string(chunks), ref.Test, time.Now().UTC().Format(time.RFC3339)); err != nil {
			return err
		}
		if fields[taosync.PackageField], err = json.Marshal(ref); err != nil {
			return err
		}
		if data, err = load.Encode(fields); err != nil {
			return err
		}
		version, err := nextVersion(ctx, tx)
		if err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, "UPDATE entities SET data = ?, version = ? WHERE type = 'delivery' AND id = ?", data, version, delivery)
		return err
	})
	return res, err
}

// ErrUnknownDelivery is returned for a delivery not held.
var ErrUnknownDelivery = errors.New("unknown delivery")

// ErrNoPackage is returned for a delivery with no published package.
var ErrNoPackage = errors.New("has no published package")

// DeliveryPackage returns the package a delivery held here names.
func DeliveryPackage(ctx context.Context, q Querier, delivery string) (*PackageRef, error) {
	var data []byte
	err := q.QueryRowContext(ctx, "SELECT data FROM entities WHERE type = 'delivery' AND id = ? AND deleted = 0", delivery).Scan(&data)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("%w %q", ErrUnknownDelivery, delivery)
	}
	if err != nil {
		return nil, err
	}
	var d struct {
		Package *PackageRef `json:"package"`
	}
	if err := json.Unmarshal(data, &d); err != nil {
		return nil, fmt.Errorf("delivery %s: %w", delivery, err)
	}
	if d.Package == nil {
		return nil, fmt.Errorf("delivery %s %w", delivery, ErrNoPackage)
	}
	return d.Package, nil
}
