package central

import "github.com/taosync/taosync"

// SetExports makes data exports read from src, a test's wrapper of the
// store.
func (c *Central) SetExports(src taosync.DataSource) { c.exports = src }
