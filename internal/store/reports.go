package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/taosync/taosync"
)

// ReceivedReport is a client's latest readiness report as central keeps it: the
// road it came by ("http" or "folder") and when central received it.
type ReceivedReport struct {
	taosync.Readiness
	Via        string `json:"via"`
	ReceivedAt string `json:"received_at"`
}

// RecordReport keeps a client's readiness report. A live one (with a pull,
// or sent on its own) is the centre's state now, and always replaces the one
// kept; one inside a result bundle, by either road, replaces it only if the
// client wrote it later (by its own clock): a stick written days ago, or a
// bundle sent again after a failed upload, does not hide what the centre
// said since. (A client clock set back is thus no trap for live reports.) A
// report dated after central's own clock counts as of now, so that a clock
// set years ahead does not freeze the report of a centre on the stick road.
func RecordReport(ctx context.Context, q Querier, client string, r taosync.Readiness, via string, live bool) error {
	raw, err := json.Marshal(r)
	if err != nil {
		return err
	}
	received := time.Now().UTC()
	at := r.At.UTC()
	if at.After(received) {
		at = received
	}
	_, err = q.ExecContext(ctx, `INSERT INTO client_reports (client, report, at, via, received_at) VALUES (?, ?, ?, ?, ?)
		ON CONFLICT (client) DO UPDATE SET report = excluded.report, at = excluded.at, via = excluded.via,
		received_at = excluded.received_at WHERE ? = 1 OR excluded.at >= client_reports.at`,
		client, string(raw), at.Format(time.RFC3339Nano), via, received.Format(time.RFC3339Nano), live)
	if err != nil {
		return fmt.Errorf("record the readiness report of %s: %w", client, err)
	}
	return nil
}

// RecordLastError keeps the last refusal of a client's request or bundle;
// upgrade says the version gate refused it.
func (c *CentralDB) RecordLastError(ctx context.Context, client, reason string, upgrade bool) error {
	_, err := c.DB.ExecContext(ctx, `INSERT INTO client_errors (client, error, at, upgrade) VALUES (?, ?, ?, ?)
		ON CONFLICT (client) DO UPDATE SET error = excluded.error, at = excluded.at, upgrade = excluded.upgrade`,
		client, reason, now(), upgrade)
	if err != nil {
		return fmt.Errorf("record a refusal of %s: %w", client, err)
	}
	return nil
}

// Reports returns the latest readiness report of each client that sent one.
func (c *CentralDB) Reports(ctx context.Context) (map[string]ReceivedReport, error) {
	rows, err := c.DB.QueryContext(ctx, "SELECT client, report, via, received_at FROM client_reports")
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]ReceivedReport{}
	for rows.Next() {
		var client, raw string
		var r ReceivedReport
		if err := rows.Scan(&client, &raw, &r.Via, &r.ReceivedAt); err != nil {
			return nil, err
		}
		if err := json.Unmarshal([]byte(raw), &r.Readiness); err != nil {
			return nil, fmt.Errorf("readiness report of %s: %w", client, err)
		}
		out[client] = r
	}
	return out, rows.Err()
}

// LastError is the last request or bundle of a client central refused.
type LastError struct {
	Error string `json:"error"`
	At    string `json:"at"`
	// Upgrade says the version gate refused it.
	Upgrade bool `json:"upgrade_needed,omitempty"`
}

func (c *CentralDB) lastError(ctx context.Context, client string) (*LastError, error) {
	var e LastError
	err := c.DB.QueryRowContext(ctx, "SELECT error, at, upgrade FROM client_errors WHERE client = ?", client).Scan(&e.Error, &e.At, &e.Upgrade)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return &e, nil
}

// BatchCounts counts the execution receipts of a client's receipt batch by
// status (taosync.ReceiptReceived, ReceiptDuplicate, ReceiptConflict).
func (c *CentralDB) BatchCounts(ctx context.Context, client string, batch uint64) (map[string]int64, error) {
	out := map[string]int64{}
	err := receipts(ctx, c.DB, client, batch, batch, func(r taosync.Receipt) error {
		if r.Bundle == "" {
			out[r.Status]++
		}
		return nil
	})
	return out, err
}

// CredentialUsed records that a client's credential was used now.
func (c *CentralDB) CredentialUsed(ctx context.Context, client string) error {
	_, err := c.DB.ExecContext(ctx, `INSERT INTO credential_used (client, at) VALUES (?, ?)
		ON CONFLICT (client) DO UPDATE SET at = excluded.at`, client, now())
	return err
}
