package central

import (
	"cmp"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/taosync/taosync/bundle"
	"github.com/taosync/taosync/internal/bucket"
	"github.com/taosync/taosync/internal/store"
	"github.com/taosync/taosync/manifest"
)

// GCLease is the lease a sweep of central's blobs holds, so that two
// replicas never sweep at once.
const GCLease = "gc"

// gcLeaseTTL is how long a sweep's lease lasts unless renewed: it is
// renewed while the sweep runs, and the lease of a sweeper that died
// expires after this long.
const gcLeaseTTL = 5 * time.Minute

// Holder names this process in a lease: what it is ("serve", "central
// gc"), its host and its process id, and a random tag, which tells apart
// two processes of one host name and process id (two containers, each
// its process 1), so that neither renews or releases the other's lease.
func Holder(what string) string {
	host, _ := os.Hostname()
	return fmt.Sprintf("%s %s:%d %s", what, host, os.Getpid(), rand.Text()[:8])
}

// GCOptions say what a sweep removes.
type GCOptions struct {
	// Age: a leftover no file was written to for this long goes, unless
	// a bundle in use needs it.
	Age time.Duration
	// UploadAge is Age for the uploads of inbox/, zero meaning Age:
	// serve passes its upload lifetime, after which an upload no longer
	// holds its client's quota.
	UploadAge time.Duration
	// DryRun reports what would go, and removes nothing (nor takes the
	// lease).
	DryRun bool
	// Holder names the sweeper in the lease: "serve HOST:PID".
	Holder string
	// Now is the time ages count from; zero means time.Now().
	Now time.Time
	// LeaseTTL is the length of the sweep's lease; zero means 5 minutes.
	LeaseTTL time.Duration
	// Lock, if not nil, locks a client's folder of the home's inbox
	// against the requests of this process that make folders in it, and
	// returns the unlock: it is held from before the sweep looks for the
	// client's uploads running until it removed what goes.
	Lock func(client string) (unlock func())
}

// GCCount counts folders removed and their bytes.
type GCCount struct {
	Count int   `json:"count"`
	Bytes int64 `json:"bytes"`
}

func (c *GCCount) add(bytes int64) { c.Count++; c.Bytes += bytes }

// GCReport is what a sweep removed (or, dry, would remove).
type GCReport struct {
	// Prepared counts the bundles of the spool no client needs any more,
	// Uploads the uploads no file came to, Partial the hidden .partial
	// folders of bundles whose writing was cut short.
	Prepared GCCount `json:"prepared"`
	Uploads  GCCount `json:"uploads"`
	Partial  GCCount `json:"partial"`
	// Removed lists the folders, as spool/CLIENT/BUNDLE or
	// inbox/CLIENT/BUNDLE.
	Removed []string `json:"removed"`
	DryRun  bool     `json:"dry_run"`
}

// LeaseHeldError: another process sweeps now.
type LeaseHeldError struct{ Lease store.Lease }

func (e *LeaseHeldError) Error() string {
	return fmt.Sprintf("another sweep is running: %s holds the lease until %s", e.Lease.Holder, e.Lease.Expires.UTC().Format(time.RFC3339))
}

// GC removes from central's blobs (and, when they are an object store,
// from the home's spool folder) what no bundle in use needs and no file
// was written to for o.Age: prepared bundles, uploads, and .partial
// leftovers. It never removes the data bundle a client was last handed and
// has not reported applied, a receipt bundle whose batch the client has not
// reported holding, an upload written to within o.Age or of a client with
// an upload running, nor a package piece.
// It holds the lease GCLease while it sweeps, and fails with a
// *LeaseHeldError when another holds it.
func (c *Central) GC(ctx context.Context, o GCOptions) (GCReport, error) {
	rep := GCReport{DryRun: o.DryRun, Removed: []string{}}
	if o.Age <= 0 {
		return rep, errors.New("gc: the age must be above 0")
	}
	now := cmp.Or(o.Now, time.Now())
	g := &sweep{c: c, o: o, cutoff: now.Add(-o.Age), uploadCutoff: now.Add(-cmp.Or(o.UploadAge, o.Age)), rep: &rep}
	if o.DryRun {
		return rep, g.run(ctx)
	}
	l, err := c.takeGCLease(ctx, o)
	if err != nil {
		return rep, err
	}
	defer l.Release()
	// The sweep stops if the lease is lost: another may sweep then.
	ctx = l.Context()
	// Lease rows whose holder died or failed to let go: an hour past
	// their expiry, nobody is working under them.
	if _, err := c.Store.DropExpiredLeases(ctx, time.Hour); err != nil {
		return rep, fmt.Errorf("gc: %w", err)
	}
	err = g.run(ctx)
	if cause := context.Cause(ctx); err != nil && errors.Is(cause, store.ErrLeaseLost) {
		err = fmt.Errorf("gc: stopped: %w", cause)
	}
	return rep, err
}

// run sweeps central's blobs and the home's spool.
func (g *sweep) run(ctx context.Context) error {
	c := g.c
	list, err := c.Store.Clients(ctx)
	if err != nil {
		return fmt.Errorf("gc: %w", err)
	}
	g.clients = map[string]store.RegisteredClient{}
	for _, cl := range list {
		g.clients[cl.ID] = cl
	}
	if err := g.bucket(ctx, c.Blobs, "spool/", inboxPrefix); err != nil {
		return err
	}
	if c.Blobs.Dir() == c.Home.Dir {
		return nil
	}
	// The home's spool, where this replica writes a bundle before it
	// copies it into the store (its inbox is serve's, swept by it).
	local, err := bucket.Open(ctx, "", c.Home.Dir)
	if err != nil {
		return err
	}
	defer local.Close()
	return g.bucket(ctx, local, "spool/")
}

// UploadLease names the lease of slot i of a client's uploads running:
// the housekeeping leaves alone the uploads of a client that holds one.
func UploadLease(client string, i int) string { return fmt.Sprintf("%s%d", uploadLeases(client), i) }

func uploadLeases(client string) string { return "upload/" + client + "/" }

// SweepInbox removes from the home's inbox folder the uploads nobody
// committed, as GC does in the blobs: those no file came to for age, and
// empty folders at once, unless their client has an upload running. It
// takes no lease: each replica sweeps its own inbox. lock is
// GCOptions.Lock.
func (c *Central) SweepInbox(ctx context.Context, age time.Duration, now time.Time, lock func(client string) (unlock func())) (GCCount, error) {
	var rep GCReport
	local, err := bucket.Open(ctx, "", c.Home.Dir)
	if err != nil {
		return rep.Uploads, err
	}
	defer local.Close()
	g := &sweep{c: c, o: GCOptions{Age: age, Lock: lock}, uploadCutoff: now.Add(-age), rep: &rep}
	err = g.bucket(ctx, local, inboxPrefix)
	return rep.Uploads, err
}

type sweep struct {
	c *Central
	o GCOptions
	// cutoff is the age's, uploadCutoff the uploads': what was written
	// before goes.
	cutoff, uploadCutoff time.Time
	rep                  *GCReport
	clients              map[string]store.RegisteredClient
}

// takeGCLease takes the lease GCLease for the sweep, or fails with a
// *LeaseHeldError naming its holder.
func (c *Central) takeGCLease(ctx context.Context, o GCOptions) (*Lease, error) {
	l, ok, err := c.TakeLease(ctx, GCLease, o.Holder, 0, cmp.Or(o.LeaseTTL, gcLeaseTTL))
	if err != nil {
		return nil, fmt.Errorf("gc: %w", err)
	}
	if ok {
		return l, nil
	}
	held, err := c.Store.GetLease(ctx, GCLease)
	if errors.Is(err, store.ErrNotFound) {
		// Released meanwhile: the next round takes it.
		held.Holder, held.Expires = "another process", time.Now()
	} else if err != nil {
		return nil, fmt.Errorf("gc: %w", err)
	}
	return nil, &LeaseHeldError{Lease: held}
}

// folder is one bundle's or upload's folder: prefix/CLIENT/NAME.
type folder struct {
	key     string
	client  string
	name    string
	keys    []string
	bytes   int64
	written time.Time
}

// bucket sweeps the folders under each prefix of b.
func (g *sweep) bucket(ctx context.Context, b *bucket.Bucket, prefixes ...string) error {
	for _, prefix := range prefixes {
		objects, err := b.Objects(ctx, prefix)
		if err != nil {
			return fmt.Errorf("gc: %w", err)
		}
		var folders []*folder
		byKey := map[string]*folder{}
		for _, o := range objects {
			parts := strings.SplitN(strings.TrimPrefix(o.Key, prefix), "/", 3)
			if len(parts) != 3 {
				continue
			}
			key := prefix + parts[0] + "/" + parts[1]
			f := byKey[key]
			if f == nil {
				f = &folder{key: key, client: parts[0], name: parts[1]}
				byKey[key] = f
				folders = append(folders, f)
			}
			f.keys = append(f.keys, o.Key)
			f.bytes += o.Size
			f.written = maxTime(f.written, o.ModTime)
		}
		if prefix == inboxPrefix {
			if err := g.uploads(ctx, b, folders); err != nil {
				return fmt.Errorf("gc: %w", err)
			}
			continue
		}
		for _, f := range folders {
			count := g.judge(prefix, f)
			if count == nil {
				continue
			}
			if err := g.drop(ctx, b, f, count); err != nil {
				return err
			}
		}
	}
	return nil
}

const inboxPrefix = "inbox/"

// drop removes a folder (unless dry), counted in count.
func (g *sweep) drop(ctx context.Context, b *bucket.Bucket, f *folder, count *GCCount) error {
	if !g.o.DryRun {
		if err := remove(ctx, b, f); err != nil {
			return fmt.Errorf("gc: %w", err)
		}
	}
	count.add(f.bytes)
	g.rep.Removed = append(g.rep.Removed, f.key)
	return nil
}

// uploads sweeps the uploads of inbox/, client by client: those no file
// came to since the cutoff go, and in a folder the empty upload folders
// and client folders, unless the client has an upload running.
func (g *sweep) uploads(ctx context.Context, b *bucket.Bucket, folders []*folder) error {
	byClient := map[string][]*folder{}
	for _, f := range folders {
		if !f.written.Before(g.uploadCutoff) {
			continue
		}
		byClient[f.client] = append(byClient[f.client], f)
	}
	if b.Dir() != "" {
		dirs, err := os.ReadDir(filepath.Join(b.Dir(), inboxPrefix))
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
		for _, d := range dirs {
			if _, ok := byClient[d.Name()]; !ok && d.IsDir() {
				byClient[d.Name()] = nil
			}
		}
	}
	for _, client := range slices.Sorted(maps.Keys(byClient)) {
		if err := g.clientUploads(ctx, b, client, byClient[client]); err != nil {
			return err
		}
	}
	return nil
}

// clientUploads is uploads of one client: the stale folders given, and in
// a folder the empty ones.
func (g *sweep) clientUploads(ctx context.Context, b *bucket.Bucket, client string, stale []*folder) error {
	if g.o.Lock != nil {
		defer g.o.Lock(client)()
	}
	// Asked again before each folder: Lock keeps this process's requests
	// out, not another replica's, which may take an upload slot of the
	// client meanwhile. (One that takes it between the question and the
	// removal finds the folder gone, and its client sends the bundle
	// again.) Leases expire on the clock, whatever the cutoff.
	running := func() (bool, error) {
		n, _, err := g.c.Store.LeasesHeld(ctx, uploadLeases(client))
		return n > 0 || err != nil, err
	}
	for _, f := range stale {
		if busy, err := running(); busy {
			return err
		}
		if err := g.drop(ctx, b, f, &g.rep.Uploads); err != nil {
			return err
		}
	}
	if b.Dir() == "" || g.o.DryRun {
		return nil
	}
	if busy, err := running(); busy {
		return err
	}
	// An upload folder a request made and left empty (it was killed),
	// which holds no object; Remove fails on the others.
	cdir := filepath.Join(b.Dir(), inboxPrefix, client)
	dirs, _ := os.ReadDir(cdir)
	for _, d := range dirs {
		if d.IsDir() && os.Remove(filepath.Join(cdir, d.Name())) == nil {
			g.rep.Uploads.add(0)
			g.rep.Removed = append(g.rep.Removed, path.Join(inboxPrefix, client, d.Name()))
		}
	}
	os.Remove(cdir)
	return nil
}

func maxTime(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// judge returns the count a folder goes to, or nil if it stays.
func (g *sweep) judge(prefix string, f *folder) *GCCount {
	if !f.written.Before(g.cutoff) {
		return nil
	}
	switch {
	case bundle.Unpublished(f.name):
		return &g.rep.Partial
	case (strings.HasPrefix(f.name, "data-") || strings.HasPrefix(f.name, "receipts-")) && !g.needed(f.client, f.name):
		return &g.rep.Prepared
	}
	return nil
}

// needed tells whether client may still download bundle b of its spool:
// the data bundle it was last handed, until it reports it applied, and
// the receipt bundles of batches it has not reported holding.
func (g *sweep) needed(client, b string) bool {
	cl, ok := g.clients[client]
	if !ok || cl.RevokedAt != "" {
		return false
	}
	if strings.HasPrefix(b, "data-") {
		return len(cl.DataBundle) >= 8 && cl.AckedSeq < cl.DataSeq &&
			strings.HasSuffix(b, fmt.Sprintf("-%06d-%s", cl.DataSeq, cl.DataBundle[:8]))
	}
	parts := strings.Split(b, "-")
	batch, err := strconv.ParseUint(parts[len(parts)-2], 10, 64)
	return err != nil || batch > cl.AckedReceiptSeq
}

// remove deletes a folder's objects, its manifest first: a bundle or an
// upload whose manifest is gone is no longer whole to anyone who looks,
// whatever is left of it if the removal stops.
func remove(ctx context.Context, b *bucket.Bucket, f *folder) error {
	rank := func(k string) int {
		switch path.Base(k) {
		case manifest.FileName:
			return 0
		case manifest.SigName:
			return 1
		}
		return 2
	}
	slices.SortStableFunc(f.keys, func(x, y string) int { return rank(x) - rank(y) })
	for _, k := range f.keys {
		if err := b.Delete(ctx, k); err != nil {
			return err
		}
	}
	if b.Dir() != "" {
		// The folder itself, now empty; another file written into it
		// since keeps it.
		os.Remove(filepath.Join(b.Dir(), filepath.FromSlash(f.key)))
	}
	return nil
}
