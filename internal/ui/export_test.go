package ui

import "time"

// MaxSessions is the session table's bound.
const MaxSessions = maxSessions

// PutSession holds a session of an operator under id, as a login does, with
// its expiry: a test fills the session table without a login each.
func (u *UI) PutSession(id, operator, hash string, expires time.Time) {
	u.mu.Lock()
	defer u.mu.Unlock()
	u.sessions[id] = session{operator: operator, csrf: random(), hash: hash, expires: expires}
}

// Sessions counts the sessions held, live or expired.
func (u *UI) Sessions() int {
	u.mu.Lock()
	defer u.mu.Unlock()
	return len(u.sessions)
}
