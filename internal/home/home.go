// Package home manages a taosync installation's home folder: its role, its
// database, and its key files. A home is initialised once, as central or as
// a client; its keys never leave it.
//
// Layout:
//
//	taosync.db           the SQLite database (the commit point of init)
//	db.url               or, for a central on PostgreSQL, its database's
//	                     URL, 0600 (it may hold a password; the commit point)
//	keys/age.key         age X25519 identity, standard age identity file, 0600
//	keys/sign.key        Ed25519 signing key, minisign secret key file, 0600
//	keys/sign.pub        its public key, minisign public key file
//	store/               content-addressed package chunks
//	store/home.lock      the writer lock (Lock)
package home

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"filippo.io/age"

	"github.com/taosync/taosync/internal/blobstore"
	"github.com/taosync/taosync/internal/safefile"
	"github.com/taosync/taosync/internal/store"
	"github.com/taosync/taosync/minisign"
)

// Role is what a home is.
type Role string

// Roles.
const (
	RoleCentral Role = "central"
	RoleClient  Role = "client"
)

// File names inside a home.
const (
	DBFile      = "taosync.db"
	DBURLFile   = "db.url"
	AgeKeyFile  = "keys/age.key"
	SignKeyFile = "keys/sign.key"
	SignPubFile = "keys/sign.pub"
	StoreDir    = "store"
	ChunksDir   = "store/chunks"
)

// Errors callers branch on.
var (
	ErrNotInitialised = errors.New("home is not initialised")
	ErrInitialised    = errors.New("home is already initialised")
	ErrWrongRole      = errors.New("wrong role for this command")
)

// Home is an open home.
type Home struct {
	Dir  string
	Role Role
	DB   *store.DB
}

// Path joins a home-relative name to the home folder.
func (h *Home) Path(name string) string { return filepath.Join(h.Dir, filepath.FromSlash(name)) }

// ParseRole parses "central" or "client".
func ParseRole(s string) (Role, error) {
	switch Role(s) {
	case RoleCentral, RoleClient:
		return Role(s), nil
	}
	return "", fmt.Errorf("unknown role %q (want central or client)", s)
}

// Init creates a home in dir with its database in it (SQLite): InitAt
// without a database location.
func Init(ctx context.Context, dir string, role Role) (*Home, error) {
	return InitAt(ctx, dir, role, "")
}

// InitAt creates a home in dir: the key files first, then the database,
// whose appearance under its final name marks the home initialised. A run
// cut short leaves no database, and the next Init starts over. With where,
// a PostgreSQL URL (central only), the database must exist, with no table
// in it or a taosync schema without a home; db.url, written last, marks the
// home initialised.
func InitAt(ctx context.Context, dir string, role Role, where string) (*Home, error) {
	if where != "" {
		return initPostgres(ctx, dir, role, where)
	}
	dbPath := filepath.Join(dir, DBFile)
	if _, err := os.Stat(filepath.Join(dir, DBURLFile)); err == nil {
		return nil, fmt.Errorf("%w: %s", ErrInitialised, dir)
	}
	if st, err := os.Stat(dbPath); err == nil {
		if st.Size() > 0 {
			if err := store.CheckFile(dbPath); err != nil {
				return nil, err
			}
			return nil, fmt.Errorf("%w: %s", ErrInitialised, dir)
		}
		// An empty database file (made by hand, or by a copy cut short)
		// is no home: the database below replaces it, and the files of
		// its journal go, unless the journal holds something.
		if st, err := os.Stat(dbPath + "-wal"); err == nil && st.Size() > 0 {
			return nil, fmt.Errorf("%s is %w: it is empty, but its journal %s-wal is not", dbPath, store.ErrNotOurs, DBFile)
		}
		for _, suffix := range []string{"-wal", "-shm"} {
			if err := os.Remove(dbPath + suffix); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return nil, fmt.Errorf("create home: %w", err)
			}
		}
	}
	if err := writeKeys(dir); err != nil {
		return nil, err
	}
	tmp := dbPath + ".init"
	os.Remove(tmp)
	db, err := store.Open(ctx, tmp, true)
	if err != nil {
		return nil, err
	}
	err = setRole(ctx, db, role)
	if err == nil {
		// Fold the WAL into the main file so that the rename below moves the
		// whole database.
		_, err = db.ExecContext(ctx, "PRAGMA wal_checkpoint(TRUNCATE)")
	}
	db.Close()
	if err != nil {
		return nil, fmt.Errorf("create database: %w", err)
	}
	for _, suffix := range []string{"-wal", "-shm"} {
		os.Remove(tmp + suffix)
	}
	if err := os.Rename(tmp, dbPath); err != nil {
		return nil, fmt.Errorf("create database: %w", err)
	}
	if err := safefile.SyncDir(dir); err != nil {
		return nil, err
	}
	return Open(ctx, dir)
}

// initPostgres is InitAt for central on PostgreSQL.
func initPostgres(ctx context.Context, dir string, role Role, where string) (*Home, error) {
	if !store.IsURL(where) {
		if err := store.CheckLocation(where); err != nil {
			return nil, err
		}
		return nil, fmt.Errorf("%s is %w for init: central's SQLite database is made in its home; --db names a postgres:// URL", where, store.ErrBadLocation)
	}
	if role != RoleCentral {
		return nil, fmt.Errorf("a %s home keeps its database in SQLite: PostgreSQL is for central", role)
	}
	for _, name := range []string{DBFile, DBURLFile} {
		if _, err := os.Stat(filepath.Join(dir, name)); err == nil {
			return nil, fmt.Errorf("%w: %s", ErrInitialised, dir)
		}
	}
	db, err := store.Open(ctx, where, true)
	if err != nil {
		return nil, err
	}
	_, err = store.Meta(ctx, db, "role")
	switch {
	case err == nil:
		err = fmt.Errorf("%w: the database %s holds a home already", ErrInitialised, db.Path)
	case errors.Is(err, store.ErrNotFound):
		if err = writeKeys(dir); err == nil {
			err = setRole(ctx, db, role)
		}
	}
	db.Close()
	if err != nil {
		return nil, err
	}
	if err := safefile.WriteFile(filepath.Join(dir, DBURLFile), []byte(where+"\n"), 0o600); err != nil {
		return nil, fmt.Errorf("create home: %w", err)
	}
	return Open(ctx, dir)
}

// setRole writes the role and the time of creation of a new home.
func setRole(ctx context.Context, db *store.DB, role Role) error {
	return db.Tx(ctx, func(tx *sql.Tx) error {
		if err := store.SetMeta(ctx, tx, "role", string(role)); err != nil {
			return err
		}
		return store.SetMeta(ctx, tx, "created", time.Now().UTC().Format(time.RFC3339))
	})
}

// writeKeys creates the home's folders and key files.
func writeKeys(dir string) error {
	if err := os.MkdirAll(filepath.Join(dir, "keys"), 0o700); err != nil {
		return fmt.Errorf("create home: %w", err)
	}
	if err := os.MkdirAll(filepath.Join(dir, StoreDir), 0o700); err != nil {
		return fmt.Errorf("create home: %w", err)
	}
	id, err := age.GenerateX25519Identity()
	if err != nil {
		return fmt.Errorf("generate age identity: %w", err)
	}
	ageFile := fmt.Sprintf("# created: %s\n# public key: %s\n%s\n",
		time.Now().UTC().Format(time.RFC3339), id.Recipient(), id)
	pub, priv, err := minisign.GenerateKey(nil)
	if err != nil {
		return fmt.Errorf("generate signing key: %w", err)
	}
	for _, f := range []struct {
		name string
		data []byte
		perm os.FileMode
	}{
		{AgeKeyFile, []byte(ageFile), 0o600},
		{SignKeyFile, priv.MarshalFile(), 0o600},
		{SignPubFile, pub.MarshalFile(), 0o644},
	} {
		if err := safefile.WriteFile(filepath.Join(dir, f.name), f.data, f.perm); err != nil {
			return fmt.Errorf("create home: %w", err)
		}
	}
	return nil
}

// Open opens an initialised home: OpenAt with the database the home names.
func Open(ctx context.Context, dir string) (*Home, error) { return OpenAt(ctx, dir, "") }

// OpenAt opens an initialised home, its database at where if not empty (a
// PostgreSQL URL, or a file), else where the home says: the URL in its
// db.url, or its taosync.db. An empty database file is a home not
// initialised; one that is not a taosync database fails with
// store.ErrNotOurs, and is not written to.
func OpenAt(ctx context.Context, dir string, where string) (*Home, error) {
	if where != "" {
		if _, err := os.Stat(filepath.Join(dir, DBFile)); err == nil {
			return nil, fmt.Errorf("%w: %s keeps its database in its %s; a database named apart is for a central home made with init --db", ErrWrongRole, dir, DBFile)
		}
	}
	if where == "" {
		b, err := os.ReadFile(filepath.Join(dir, DBURLFile))
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("open home: %w", err)
		}
		where = strings.TrimSpace(string(b))
	}
	if where != "" {
		if _, err := os.Stat(filepath.Join(dir, SignKeyFile)); err != nil {
			return nil, fmt.Errorf("%w: %s", ErrNotInitialised, dir)
		}
		if err := store.CheckLocation(where); err != nil {
			return nil, err
		}
		return openDB(ctx, dir, where)
	}
	dbPath := filepath.Join(dir, DBFile)
	st, err := os.Stat(dbPath)
	if err != nil {
		return nil, fmt.Errorf("%w: %s", ErrNotInitialised, dir)
	}
	if st.Size() == 0 {
		return nil, fmt.Errorf("%w: %s is empty", ErrNotInitialised, dbPath)
	}
	return openDB(ctx, dir, dbPath)
}

// openDB opens the home's database, which must be a taosync database.
func openDB(ctx context.Context, dir, where string) (*Home, error) {
	db, err := store.Open(ctx, where, false)
	if err != nil {
		return nil, err
	}
	role, err := store.Meta(ctx, db, "role")
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("read role: %w", err)
	}
	return &Home{Dir: dir, Role: Role(role), DB: db}, nil
}

// Chunks opens the chunk store of the home, which must be of the role.
func (h *Home) Chunks(role Role) (*blobstore.Store, error) {
	if err := h.Require(role); err != nil {
		return nil, err
	}
	return blobstore.Open(h.Path(ChunksDir))
}

// Close closes the database.
func (h *Home) Close() error { return h.DB.Close() }

// Require refuses a command meant for another role.
func (h *Home) Require(role Role) error {
	if h.Role != role {
		return fmt.Errorf("%w: this is a %s home, the command is for a %s", ErrWrongRole, h.Role, role)
	}
	return nil
}

// Identity reads the home's age identity.
func (h *Home) Identity() (*age.X25519Identity, error) {
	b, err := os.ReadFile(h.Path(AgeKeyFile))
	if err != nil {
		return nil, fmt.Errorf("read age identity: %w", err)
	}
	ids, err := age.ParseIdentities(strings.NewReader(string(b)))
	if err != nil {
		return nil, fmt.Errorf("read age identity %s: %w", h.Path(AgeKeyFile), err)
	}
	x, ok := ids[0].(*age.X25519Identity)
	if len(ids) != 1 || !ok {
		return nil, fmt.Errorf("read age identity %s: want one X25519 identity", h.Path(AgeKeyFile))
	}
	return x, nil
}

// Signer reads the home's signing key.
func (h *Home) Signer() (minisign.PrivateKey, error) {
	b, err := os.ReadFile(h.Path(SignKeyFile))
	if err != nil {
		return minisign.PrivateKey{}, fmt.Errorf("read signing key: %w", err)
	}
	k, err := minisign.ParsePrivateKeyFile(b)
	if err != nil {
		return minisign.PrivateKey{}, fmt.Errorf("read signing key %s: %w", h.Path(SignKeyFile), err)
	}
	return k, nil
}

// PublicKeys reads the home's public keys.
func (h *Home) PublicKeys() (PublicKeys, error) {
	id, err := h.Identity()
	if err != nil {
		return PublicKeys{}, err
	}
	b, err := os.ReadFile(h.Path(SignPubFile))
	if err != nil {
		return PublicKeys{}, fmt.Errorf("read signing public key: %w", err)
	}
	pub, err := minisign.ParsePublicKeyFile(b)
	if err != nil {
		return PublicKeys{}, fmt.Errorf("read signing public key %s: %w", h.Path(SignPubFile), err)
	}
	return PublicKeys{Age: id.Recipient().String(), Sign: pub}, nil
}
