package central

import "github.com/taosync/taosync"

// SetExports makes data exports read from src, a test's wrapper of the
// store.
func (c *Central) SetExports(src taosync.DataSource) { c.exports = src }

// TakeImportSlots takes every slot of the result imports run at once on
// PostgreSQL, until release is called.
func (c *Central) TakeImportSlots() (release func()) {
	for range cap(c.imports) {
		c.imports <- struct{}{}
	}
	return func() {
		for range cap(c.imports) {
			<-c.imports
		}
	}
}
