package central

import "github.com/taosync/taosync/exporter"

// SetExports makes data exports read from src, a test's wrapper of the
// store.
func (c *Central) SetExports(src exporter.DataSource) { c.exports = src }
