package client

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/taosync/taosync/bundle"
	"github.com/taosync/taosync/internal/config"
)

// RemoveStale removes what earlier syncs and exports left that no file
// was written to for the gc.age setting: the download folders of
// HOME/incoming (a bundle central may no longer offer: if it does, the
// next pull downloads it whole again) and the hidden .partial folders of
// result bundles whose writing was cut short in HOME/outgoing. It returns
// the folders removed, relative to the home. Run it with the home's lock
// held: a sync under way writes there.
func (c *Client) RemoveStale(ctx context.Context, now time.Time) ([]string, error) {
	age, err := config.Duration(ctx, c.Home.DB, "gc.age")
	if err != nil {
		return nil, err
	}
	var removed []string
	for _, sub := range []string{IncomingDir, OutgoingDir} {
		entries, err := os.ReadDir(c.Home.Path(sub))
		if os.IsNotExist(err) {
			continue
		}
		if err != nil {
			return removed, fmt.Errorf("remove leftovers: %w", err)
		}
		for _, e := range entries {
			if !e.IsDir() || (sub == OutgoingDir && !bundle.Unpublished(e.Name())) {
				continue
			}
			dir := filepath.Join(c.Home.Path(sub), e.Name())
			last, err := newest(dir)
			if err != nil {
				return removed, fmt.Errorf("remove leftovers: %w", err)
			}
			if now.Sub(last) < age {
				continue
			}
			if err := os.RemoveAll(dir); err != nil {
				return removed, fmt.Errorf("remove leftovers: %w", err)
			}
			removed = append(removed, filepath.Join(sub, e.Name()))
		}
	}
	return removed, nil
}

// newest returns the time of the last write in a folder tree.
func newest(dir string) (time.Time, error) {
	var last time.Time
	err := filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		info, err := d.Info()
		if err == nil && info.ModTime().After(last) {
			last = info.ModTime()
		}
		return err
	})
	return last, err
}
