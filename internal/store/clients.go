package store

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// RegisteredClient is a registered test centre's client, as central knows it.
type RegisteredClient struct {
	ID           string `json:"client_id"`
	Org          string `json:"org"`
	AgeRecipient string `json:"age_recipient"`
	SignKey      string `json:"sign_public_key"`
	KeyID        string `json:"sign_key_id"`
	CreatedAt    string `json:"created_at"`
	RevokedAt    string `json:"revoked_at,omitempty"`
	// The last data bundle exported for it: the state its next delta
	// applies on.
	DataSeq    uint64 `json:"data_seq"`
	DataBundle string `json:"data_bundle,omitempty"`
	DataHash   string `json:"-"`
	DataAt     string `json:"data_at,omitempty"`
	// AckedSeq is the last data bundle it reported applied.
	AckedSeq uint64 `json:"acked_seq"`
	// AckedAt is when the client wrote that report (its clock).
	AckedAt string `json:"acked_at,omitempty"`
	// ReceiptSeq is the last receipt batch made for it, AckedReceiptSeq
	// the batch up to which it reported holding them all.
	ReceiptSeq      uint64 `json:"receipt_seq"`
	AckedReceiptSeq uint64 `json:"acked_receipt_seq"`
	// NextSeq is the last data sequence number reserved for it, by an
	// export recorded or not.
	NextSeq uint64 `json:"-"`
}

// ErrUnknownClient is returned for a client id not registered.
var ErrUnknownClient = errors.New("unknown client")

const clientColumns = `id, org, age_recipient, sign_key, key_id, created_at, revoked_at,
	data_seq, data_bundle, data_hash, data_at, acked_seq, acked_at, receipt_seq, acked_receipt_seq, next_seq`

func scanClient(row interface{ Scan(...any) error }) (RegisteredClient, error) {
	var c RegisteredClient
	err := row.Scan(&c.ID, &c.Org, &c.AgeRecipient, &c.SignKey, &c.KeyID, &c.CreatedAt, &c.RevokedAt,
		&c.DataSeq, &c.DataBundle, &c.DataHash, &c.DataAt, &c.AckedSeq, &c.AckedAt, &c.ReceiptSeq, &c.AckedReceiptSeq, &c.NextSeq)
	return c, err
}

// AddClient registers a client with the hash of its OAuth secret, and trusts
// its signing key for the bundles it sends.
func (c *CentralDB) AddClient(ctx context.Context, cl RegisteredClient, secretHash string) error {
	return c.DB.Tx(ctx, func(tx *sql.Tx) error {
		var one int
		err := tx.QueryRowContext(ctx, "SELECT 1 FROM clients WHERE id = ? OR key_id = ?", cl.ID, cl.KeyID).Scan(&one)
		if err == nil {
			return fmt.Errorf("a client with id %q or signing key %s is already registered", cl.ID, cl.KeyID)
		}
		if !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		cl.CreatedAt = time.Now().UTC().Format(time.RFC3339)
		_, err = tx.ExecContext(ctx, `INSERT INTO clients (id, org, age_recipient, sign_key, key_id, secret_hash, created_at)
			VALUES (?, ?, ?, ?, ?, ?, ?)`, cl.ID, cl.Org, cl.AgeRecipient, cl.SignKey, cl.KeyID, secretHash, cl.CreatedAt)
		if err != nil {
			return fmt.Errorf("register client %s: %w", cl.ID, err)
		}
		return AddTrustedKey(ctx, tx, TrustedKey{KeyID: cl.KeyID, Party: cl.ID, SignKey: cl.SignKey, AgeRecipient: cl.AgeRecipient})
	})
}

// GetClient returns a registered client.
func (c *CentralDB) GetClient(ctx context.Context, q Querier, id string) (RegisteredClient, error) {
	cl, err := scanClient(q.QueryRowContext(ctx, "SELECT "+clientColumns+" FROM clients WHERE id = ?", id))
	if errors.Is(err, sql.ErrNoRows) {
		return cl, fmt.Errorf("%w %q", ErrUnknownClient, id)
	}
	return cl, err
}

// Clients lists the registered clients.
func (c *CentralDB) Clients(ctx context.Context) ([]RegisteredClient, error) {
	rows, err := c.DB.QueryContext(ctx, "SELECT "+clientColumns+" FROM clients ORDER BY id")
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []RegisteredClient
	for rows.Next() {
		cl, err := scanClient(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, cl)
	}
	return out, rows.Err()
}

// RevokeClient revokes a client's OAuth credential at once. Its signing key
// stays trusted, so that results it already produced still reach central.
func (c *CentralDB) RevokeClient(ctx context.Context, id string) error {
	r, err := c.DB.ExecContext(ctx, "UPDATE clients SET revoked_at = ? WHERE id = ? AND revoked_at = ''",
		time.Now().UTC().Format(time.RFC3339), id)
	if err != nil {
		return err
	}
	if n, _ := r.RowsAffected(); n == 0 {
		if _, err := c.GetClient(ctx, c.DB, id); err != nil {
			return err
		}
		return fmt.Errorf("client %s is %w", id, ErrAlreadyRevoked)
	}
	return nil
}

// ErrAlreadyRevoked: the client's credential was revoked before.
var ErrAlreadyRevoked = errors.New("already revoked")

// Credential returns the hash of a client's OAuth secret and when it was
// revoked ("" if it was not).
func (c *CentralDB) Credential(ctx context.Context, id string) (secretHash, revokedAt string, err error) {
	err = c.DB.QueryRowContext(ctx, "SELECT secret_hash, revoked_at FROM clients WHERE id = ?", id).Scan(&secretHash, &revokedAt)
	if errors.Is(err, sql.ErrNoRows) {
		return "", "", fmt.Errorf("%w %q", ErrUnknownClient, id)
	}
	return secretHash, revokedAt, err
}

// RotateSecret replaces a client's OAuth secret hash (and lifts a
// revocation): tokens obtained with the old secret stop working at once.
func (c *CentralDB) RotateSecret(ctx context.Context, id, secretHash string) error {
	r, err := c.DB.ExecContext(ctx, "UPDATE clients SET secret_hash = ?, revoked_at = '' WHERE id = ?", secretHash, id)
	if err != nil {
		return err
	}
	if n, _ := r.RowsAffected(); n == 0 {
		return fmt.Errorf("%w %q", ErrUnknownClient, id)
	}
	return nil
}

// RestoreWindow is how far above the last number central made for a
// client a number the client reports may be. A central restored from a
// backup has forgotten the data bundles and receipt batches it made since,
// and still takes the word of the clients that hold them, to number its
// next ones above (docs/operations.md, Backups): a million is more bundles
// than a client gets in decades of syncs. A number further above is none
// that central could have made; it is refused, rather than stored and
// carried forward to the end of SQLite's integers.
const RestoreWindow = 1 << 20

// ErrOutOfRange refuses a sequence number a client reports that central
// never made for it.
var ErrOutOfRange = errors.New("out of range")

// CheckDataSeq refuses a data bundle number that central never made for the
// client.
func (cl RegisteredClient) CheckDataSeq(field string, seq uint64) error {
	return cl.check(field, "data bundle", seq, max(cl.NextSeq, cl.DataSeq))
}

// CheckReceiptSeq refuses a receipt batch number that central never made
// for the client.
func (cl RegisteredClient) CheckReceiptSeq(field string, seq uint64) error {
	return cl.check(field, "receipt batch", seq, cl.ReceiptSeq)
}

func (cl RegisteredClient) check(field, what string, seq, last uint64) error {
	if seq > last && seq-last > RestoreWindow {
		return fmt.Errorf("%w: %s %d: central made no such %s for client %s (its last is %d)", ErrOutOfRange, field, seq, what, cl.ID, last)
	}
	return nil
}

// ReportDataState records the data state and receipt batch a client
// reported (over HTTP, where it says what it holds with every pull). A
// number central never made for the client is refused (ErrOutOfRange), and
// nothing is recorded.
func (c *CentralDB) ReportDataState(ctx context.Context, id string, seq, receiptSeq uint64, at time.Time) error {
	reported := at.UTC().Format(time.RFC3339Nano)
	return c.write(ctx, func(ctx context.Context, tx *sql.Tx) error {
		cl, err := c.GetClient(ctx, tx, id)
		if err != nil {
			return err
		}
		if err := cmp.Or(cl.CheckDataSeq("data_seq", seq), cl.CheckReceiptSeq("receipt_seq", receiptSeq)); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `UPDATE clients SET acked_seq = ?, acked_at = ?,
			acked_receipt_seq = MAX(acked_receipt_seq, ?) WHERE id = ? AND acked_at < ?`, seq, reported, receiptSeq, id, reported)
		return err
	})
}
