package store_test

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/taosync/taosync"
	"github.com/taosync/taosync/bundle"
)

// execSource is a store.ExecutionSource over a slice, as `results add`
// reads a JSON Lines file.
type execSource struct {
	xs []taosync.Execution
	i  int
}

func (s *execSource) Next() (taosync.Execution, int, error) {
	if s.i >= len(s.xs) {
		return taosync.Execution{}, 0, io.EOF
	}
	s.i++
	return s.xs[s.i-1], s.i, nil
}

// entitySource is a store.EntitySource over a slice.
type entitySource struct {
	es []taosync.Entity
	i  int
}

func (s *entitySource) Next() (taosync.Entity, int, error) {
	if s.i >= len(s.es) {
		return taosync.Entity{}, 0, io.EOF
	}
	s.i++
	return s.es[s.i-1], s.i, nil
}

// errKilled stands for the process dying.
var errKilled = errors.New("killed (simulated)")

// Kill points of a result export.
const (
	exportKillNone         = iota
	exportKillAbandon      // BeginResultExport, then nothing
	exportKillInEach       // context cancelled while the executions are read
	exportKillBeforeCommit // context cancelled before the outbox commit
	exportKillAfterPublish // bundle published, process dies before the commit
	exportKillNoManifest   // bundle written and committed, manifest lost
	exportKillCount
)

var exportKillNames = []string{"none", "abandon", "in-each", "before-commit", "after-publish", "no-manifest"}

// killExport wraps a store's ResultExport to die at a chosen point.
//
// It can also run another command's work (during) in the middle of the
// export, as a `results add` or an `import` in another process would:
// before the executions are read (at -1), after reading the at-th one, or
// before the commit (at >= Count).
type killExport struct {
	taosync.ResultExport
	during func()
	at     int
	mode   int
	after  int // exportKillInEach: cancel after this many executions
	cancel context.CancelFunc
	stick  string
	id     string
	stash  string // exportKillAfterPublish: where the published bundle is saved
}

func (k *killExport) interleave(at int) {
	if k.during != nil && k.at == at {
		k.during()
		k.during = nil
	}
}

func (k *killExport) Each(ctx context.Context, fn func(taosync.OutgoingExecution) error) error {
	k.interleave(-1)
	i := 0
	return k.ResultExport.Each(ctx, func(x taosync.OutgoingExecution) error {
		k.interleave(i)
		if k.mode == exportKillInEach && i == k.after {
			// The process dies here: nothing after this point runs.
			k.cancel()
			return errKilled
		}
		i++
		return fn(x)
	})
}

func (k *killExport) Commit(ctx context.Context, hash string, h taosync.HistoryEntry, publish func() error) error {
	k.interleave(int(k.Count()))
	switch k.mode {
	case exportKillBeforeCommit:
		k.cancel()
	case exportKillAfterPublish:
		return k.ResultExport.Commit(ctx, hash, h, func() error {
			if err := publish(); err != nil {
				return err
			}
			// The bundle is whole on the stick; the process dies before
			// the outbox transaction commits (exporter.Results would then
			// remove it, which a dead process cannot do: keep a copy).
			dir := findBundle(k.stick, k.id)
			if dir == "" {
				return errors.New("published bundle not found")
			}
			k.stash = filepath.Join(filepath.Dir(k.stick), "stash-"+filepath.Base(dir))
			if err := os.CopyFS(k.stash, os.DirFS(dir)); err != nil {
				return err
			}
			return errKilled
		})
	}
	return k.ResultExport.Commit(ctx, hash, h, publish)
}

// findBundle returns the folder of the bundle with this id in stick.
func findBundle(stick, id string) string {
	m, _ := filepath.Glob(filepath.Join(stick, "*-"+id[:8]))
	if len(m) != 1 {
		return ""
	}
	return m[0]
}

// Kill points of an import (on central or a client).
const (
	importKillNone         = iota
	importKillInRecords    // cancelled after some records of a bundle
	importKillBeforeCommit // cancelled just before a bundle's commit
	importKillAfterCommit  // cancelled just after a bundle's commit
	importKillCount
)

var importKillNames = []string{"none", "in-records", "before-commit", "after-commit"}

// killer cancels a context at the n-th occurrence of its kill point.
type killer struct {
	mode   int
	n      int // which occurrence (0-based)
	seen   int
	cancel context.CancelFunc
	fired  bool
}

func (k *killer) at(point int) {
	if k == nil || k.mode != point || k.fired {
		return
	}
	if k.seen == k.n {
		k.fired = true
		k.cancel()
	}
	k.seen++
}

// killResultTarget wraps central's ResultTarget.
type killResultTarget struct {
	taosync.ResultTarget
	k *killer
}

func (t *killResultTarget) BeginResults(ctx context.Context, client string, state taosync.ClientState) (taosync.ResultApply, error) {
	a, err := t.ResultTarget.BeginResults(ctx, client, state)
	if err != nil {
		return nil, err
	}
	return &killResultApply{ResultApply: a, k: t.k}, nil
}

type killResultApply struct {
	taosync.ResultApply
	k *killer
}

func (a *killResultApply) Put(ctx context.Context, xs []taosync.OutgoingExecution, prepared any, bundleID string) ([]string, error) {
	a.k.at(importKillInRecords)
	return a.ResultApply.Put(ctx, xs, prepared, bundleID)
}

func (a *killResultApply) Commit(ctx context.Context, b *bundle.Bundle, s taosync.ClientState, h taosync.HistoryEntry) (uint64, error) {
	a.k.at(importKillBeforeCommit)
	batch, err := a.ResultApply.Commit(ctx, b, s, h)
	if err == nil {
		a.k.at(importKillAfterCommit)
	}
	return batch, err
}

// killDataTarget wraps a client's DataTarget.
type killDataTarget struct {
	taosync.DataTarget
	k *killer
}

func (t *killDataTarget) BeginApply(ctx context.Context, full bool, packageChunks []string) (taosync.DataApply, error) {
	a, err := t.DataTarget.BeginApply(ctx, full, packageChunks)
	if err != nil {
		return nil, err
	}
	return &killDataApply{DataApply: a, k: t.k}, nil
}

type killDataApply struct {
	taosync.DataApply
	k *killer
}

func (a *killDataApply) Receipt(ctx context.Context, r taosync.Receipt) (bool, error) {
	a.k.at(importKillInRecords)
	return a.DataApply.Receipt(ctx, r)
}

func (a *killDataApply) Commit(ctx context.Context, b *bundle.Bundle, h taosync.HistoryEntry) error {
	a.k.at(importKillBeforeCommit)
	err := a.DataApply.Commit(ctx, b, h)
	if err == nil {
		a.k.at(importKillAfterCommit)
	}
	return err
}

// bundleDirs lists the bundle folders in stick whose name starts with kind.
func bundleDirs(stick, kind string) []string {
	entries, err := os.ReadDir(stick)
	if err != nil {
		return nil
	}
	var out []string
	for _, e := range entries {
		if e.IsDir() && strings.HasPrefix(e.Name(), kind+"-") {
			out = append(out, filepath.Join(stick, e.Name()))
		}
	}
	return out
}
