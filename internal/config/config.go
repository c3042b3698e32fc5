// Package config defines the settings `taosync config` reads and writes, with
// their defaults and checks. Values are stored in the home database; a
// setting never set has its default.
package config

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/taosync/taosync/internal/store"
	"github.com/taosync/taosync/internal/version"
)

// Setting is one known setting.
type Setting struct {
	Key     string
	Default string
	Help    string
	// check normalises a value or says why it is not valid.
	check func(string) (string, error)
}

func positiveInt(max int) func(string) (string, error) {
	return func(s string) (string, error) {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n < 1 || n > max {
			return "", fmt.Errorf("want a whole number from 1 to %d", max)
		}
		return strconv.Itoa(n), nil
	}
}

func boolean(s string) (string, error) {
	b, err := strconv.ParseBool(strings.TrimSpace(s))
	if err != nil {
		return "", errors.New("want true or false")
	}
	return strconv.FormatBool(b), nil
}

func statuses(s string) (string, error) {
	seen := map[string]bool{}
	var out []string
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		if part != "finished" && part != "terminated" {
			return "", fmt.Errorf("status %q cannot be sent (want finished and/or terminated)", part)
		}
		if !seen[part] {
			seen[part] = true
			out = append(out, part)
		}
	}
	if !seen["finished"] {
		return "", errors.New("finished executions are always sent")
	}
	return strings.Join(out, ","), nil
}

func duration(low, high time.Duration) func(string) (string, error) {
	return func(s string) (string, error) {
		d, err := time.ParseDuration(strings.TrimSpace(s))
		if err != nil || d < low || d > high {
			return "", fmt.Errorf("want a duration from %s to %s, such as 30s or 5m", low, high)
		}
		return d.String(), nil
	}
}

func serverURL(s string) (string, error) {
	u, err := url.Parse(strings.TrimSpace(s))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		return "", errors.New("want an http or https URL such as https://central.example.org")
	}
	return strings.TrimRight(u.String(), "/"), nil
}

// BlobsURL takes where central keeps its files: empty or file:// for the
// home, file:///folder, or s3://bucket?query; never credentials, which go
// in the AWS environment variables. Open checks that the store answers.
func BlobsURL(s string) (string, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return "", nil
	}
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "file" && u.Scheme != "s3") || u.Fragment != "" {
		return "", errors.New("want file:// (the home), file:///folder or s3://bucket?endpoint=...&region=...")
	}
	if u.User != nil {
		return "", errors.New("credentials go in the AWS environment variables, not in the URL")
	}
	return u.String(), nil
}

// minVersion takes a release version (MAJOR.MINOR.PATCH), or nothing for
// no minimum.
func minVersion(s string) (string, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return "", nil
	}
	if _, err := version.Parse(s); err != nil {
		return "", errors.New("want a release version such as 1.4.0, or an empty value for no minimum")
	}
	return strings.TrimPrefix(s, "v"), nil
}

// Settings lists every known setting.
var Settings = []Setting{
	{Key: "sync.chunkSize", Default: "5000", Help: "records per data bundle chunk", check: positiveInt(1_000_000)},
	{Key: "sync.expiryDays", Default: "30", Help: "days a data or receipt bundle stays valid", check: positiveInt(3650)},
	{Key: "results.chunkSize", Default: "500", Help: "executions per result bundle chunk", check: positiveInt(100_000)},
	{Key: "results.deleteAfterSend", Default: "false", Help: "delete a result's payload once central's receipt arrives", check: boolean},
	{Key: "results.sendStatuses", Default: "finished", Help: "statuses of the executions sent: finished, or finished,terminated", check: statuses},
	{Key: "server.url", Default: "http://127.0.0.1:8080", Help: "central's address as clients reach it (tokenUrl and rootUrl)", check: serverURL},
	{Key: "results.expiryDays", Default: "365", Help: "days a result bundle stays valid", check: positiveInt(3650)},
	// The link settings bound every wait of `sync`: the lows keep a typo from
	// making a client hammer central, the highs keep a run from hanging for
	// a day.
	{Key: "sync.retryWait", Default: "5m0s", Help: "sync: total wait between the attempts of one step before it fails", check: duration(time.Second, 24*time.Hour)},
	{Key: "sync.stallTimeout", Default: "30s", Help: "sync: a transfer that moves no byte for this long is dropped and resumed", check: duration(100*time.Millisecond, time.Hour)},
	{Key: "sync.connectTimeout", Default: "10s", Help: "sync: wait for a connection (and its TLS handshake) to central", check: duration(100*time.Millisecond, 10*time.Minute)},
	{Key: "sync.pullWait", Default: "5m0s", Help: "sync: wait for central to prepare a pull's bundle", check: duration(100*time.Millisecond, time.Hour)},
	{Key: "sync.parallel", Default: "4", Help: "sync: files of a bundle downloaded at once", check: positiveInt(16)},
	{Key: "blobs.url", Default: "", Help: "central: where package pieces, prepared bundles and uploads live (empty: the home; s3://bucket?endpoint=...)", check: BlobsURL},
	// Housekeeping: an age past a weekend without a link, so that a
	// centre that stopped on Friday resumes on Monday; an interval that
	// keeps leftovers from piling up without listing the store often.
	{Key: "gc.age", Default: "72h0m0s", Help: "housekeeping: leftovers no file was written to for this long are removed (prepared bundles no client needs, uploads, .partial folders; a client's unfinished downloads)", check: duration(time.Hour, 90*24*time.Hour)},
	{Key: "gc.interval", Default: "1h0m0s", Help: "central: how often each serve replica tries to sweep the blobs (one at a time, under a lease)", check: duration(time.Minute, 7*24*time.Hour)},
	{Key: "clients.minVersion", Default: "", Help: "the oldest taosync version central serves clients of (empty: any)", check: minVersion},
}

// ErrInvalid marks an unknown setting or a value it does not take.
var ErrInvalid = errors.New("invalid setting")

func lookup(key string) (Setting, error) {
	for _, s := range Settings {
		if s.Key == key {
			return s, nil
		}
	}
	var keys []string
	for _, s := range Settings {
		keys = append(keys, s.Key)
	}
	return Setting{}, fmt.Errorf("%w: unknown setting %q (known: %s)", ErrInvalid, key, strings.Join(keys, ", "))
}

// Get returns a setting's value, its default if never set.
func Get(ctx context.Context, q store.Querier, key string) (string, error) {
	s, err := lookup(key)
	if err != nil {
		return "", err
	}
	var v string
	err = q.QueryRowContext(ctx, "SELECT value FROM settings WHERE key = ?", key).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return s.Default, nil
	}
	if err != nil {
		return "", fmt.Errorf("read setting %s: %w", key, err)
	}
	return v, nil
}

// IsSet tells whether a setting was given a value, rather than left at its
// default.
func IsSet(ctx context.Context, q store.Querier, key string) (bool, error) {
	var one int
	err := q.QueryRowContext(ctx, "SELECT 1 FROM settings WHERE key = ?", key).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("read setting %s: %w", key, err)
	}
	return true, nil
}

// Int returns an integer setting.
func Int(ctx context.Context, q store.Querier, key string) (int, error) {
	v, err := Get(ctx, q, key)
	if err != nil {
		return 0, err
	}
	return strconv.Atoi(v)
}

// Duration returns a duration setting.
func Duration(ctx context.Context, q store.Querier, key string) (time.Duration, error) {
	v, err := Get(ctx, q, key)
	if err != nil {
		return 0, err
	}
	return time.ParseDuration(v)
}

// Bool returns a boolean setting.
func Bool(ctx context.Context, q store.Querier, key string) (bool, error) {
	v, err := Get(ctx, q, key)
	if err != nil {
		return false, err
	}
	return strconv.ParseBool(v)
}

// Check checks a setting's value and returns it normalised, without storing
// it.
func Check(key, value string) (string, error) {
	s, err := lookup(key)
	if err != nil {
		return "", err
	}
	v, err := s.check(value)
	if err != nil {
		return "", fmt.Errorf("%w: %s: %q: %v", ErrInvalid, key, value, err)
	}
	return v, nil
}

// Set checks and stores a setting's value.
func Set(ctx context.Context, q store.Querier, key, value string) (string, error) {
	v, err := Check(key, value)
	if err != nil {
		return "", err
	}
	_, err = q.ExecContext(ctx, "INSERT INTO settings (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value", key, v)
	if err != nil {
		return "", fmt.Errorf("store setting %s: %w", key, err)
	}
	return v, nil
}

// Value is a setting with its current value.
type Value struct {
	Key     string `json:"key"`
	Value   string `json:"value"`
	Default string `json:"default"`
	Help    string `json:"help"`
}

// List returns every setting with its current value.
func List(ctx context.Context, q store.Querier) ([]Value, error) {
	var out []Value
	for _, s := range Settings {
		v, err := Get(ctx, q, s.Key)
		if err != nil {
			return nil, err
		}
		out = append(out, Value{Key: s.Key, Value: v, Default: s.Default, Help: s.Help})
	}
	return out, nil
}
